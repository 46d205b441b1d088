package main

import (
	"log/slog"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// The docs/actuator.md's actuator block documents exactly the flags, metrics and
// configuration keys the binary has.
func TestDocsDocumentActuator(t *testing.T) {
	block := testenv.DocBlock(t, "docs/actuator.md", "actuator")

	app, _, _ := newApp()
	for _, f := range app.Model().Flags {
		if f.Hidden || f.Name == "help" || f.Name == "version" {
			continue
		}
		if !strings.Contains(block, "`--"+f.Name+"`") && !strings.Contains(block, "--"+f.Name+"`") {
			t.Errorf("flag --%s is not documented", f.Name)
		}
	}

	reg := prometheus.NewRegistry()
	fake := routetest.New(t, map[netip.Prefix]int{})
	if _, err := actuator.New(actuator.Options{ConfigFile: "testdata/route_actuator.yml", Registry: reg, Logger: slog.New(slog.DiscardHandler),
		NewBackend: func(*config.Config) (route.Backend, error) { return fake, nil }}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{"route_actuator_build_info": true, "route_actuator_config_last_reload_successful": true,
		"route_actuator_config_last_reload_success_timestamp_seconds": true}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for name := range have {
		if !strings.Contains(block, "`"+name+"`") {
			t.Errorf("metric %s is not documented", name)
		}
	}
	for _, m := range regexp.MustCompile("`(route_actuator_[a-z_]+)`").FindAllStringSubmatch(block, -1) {
		if !have[m[1]] {
			t.Errorf("docs/actuator.md documents %s, which does not exist", m[1])
		}
	}

	for _, section := range []any{config.Config{}, config.Alerts{}, config.Alertmanager{}, config.Backend{}} {
		rt := reflect.TypeOf(section)
		for i := range rt.NumField() {
			key, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
			if key != "" && !regexp.MustCompile(`(?m)^\s*(# )?`+key+`:`).MatchString(block) {
				t.Errorf("config key %s.%s is not documented", rt.Name(), key)
			}
		}
	}
	for _, key := range config.RouteKeys() {
		if !regexp.MustCompile(`(?m)^\s*-? ?` + key + `:`).MatchString(block) {
			t.Errorf("route key %s is not documented", key)
		}
	}
}
