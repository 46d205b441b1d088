package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator"
	"github.com/slaroute/slaroute/actuator/apiv1"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/actuator/route/routetest"
)

// route_actuator (fake backend, real handlers) after a withdraw webhook:
// its /api/v1/routes decodes into apiv1.Routes with no field left over, and
// `slaroutectl status` says which nexthop is out and why.
func TestStatusAgainstActuator(t *testing.T) {
	svc := netip.MustParsePrefix("192.0.2.53/32")
	fake := routetest.New(t, map[netip.Prefix]int{svc: 1})
	a, err := actuator.New(actuator.Options{ConfigFile: "../route_actuator/testdata/route_actuator.yml", Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler), NewBackend: func(*config.Config) (route.Backend, error) { return fake, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	mux := http.NewServeMux()
	for pattern, h := range a.Handlers() {
		mux.Handle(pattern, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, fixture := range []string{"heartbeat.json", "withdraw.json"} {
		b, err := os.ReadFile("../../actuator/webhook/testdata/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(srv.URL+"/webhook", "application/json", bytes.NewReader(b))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", fixture, resp, err)
		}
		resp.Body.Close()
	}

	resp, err := http.Get(srv.URL + apiv1.PathRoutes)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	var r apiv1.Routes
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("/api/v1/routes does not fit apiv1.Routes: %v", err)
	}
	resp.Body.Close()

	t.Setenv("HOME", t.TempDir())
	out, stderr, code := runCLI(t, "--actuator.url="+srv.URL, "status")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Alert pipeline: healthy",
		"192.0.2.53/32: converged, min_nexthops 1\n",
		"198.51.100.12  no         no       alert DNSServerDown{nexthop=\"198.51.100.12\", service=\"192.0.2.53/32\"} fp=1111111111111111 since 2026-01-01T12:00:00Z\n",
		"198.51.100.11  yes        yes\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// drain add, list, events, a refusal, remove: against the real handlers.
	u := "--actuator.url=" + srv.URL
	if out, stderr, code := runCLI(t, u, "--who=alice", "drain", "add", "198.51.100.13", "--reason=kernel upgrade"); code != 0 || !strings.Contains(out, "kernel upgrade") {
		t.Fatalf("drain add: %d %s %s", code, out, stderr)
	}
	if r, _ := fake.Get(svc); len(r.Nexthops) != 1 {
		t.Errorf("after drain the device has %v, want 198.51.100.11 only", r.Nexthops)
	}
	if _, stderr, code := runCLI(t, u, "drain", "add", "198.51.100.11", "--reason=x"); code != 1 || !strings.Contains(stderr, "409") {
		t.Errorf("draining the last nexthop: exit %d, %s", code, stderr)
	}
	if out, _, code := runCLI(t, u, "drain", "list"); code != 0 || !strings.Contains(out, "198.51.100.13") || !strings.Contains(out, "alice") {
		t.Errorf("drain list: %d %s", code, out)
	}
	out, _, code = runCLI(t, u, "events")
	if code != 0 || !strings.Contains(out, `-198.51.100.13 (drain "kernel upgrade" by alice)`) {
		t.Errorf("events: %d\n%s", code, out)
	}
	if out, stderr, code := runCLI(t, u, "drain", "remove", "198.51.100.13"); code != 0 {
		t.Errorf("drain remove: %d %s %s", code, out, stderr)
	}
	if r, _ := fake.Get(svc); len(r.Nexthops) != 2 {
		t.Errorf("after undrain the device has %v", r.Nexthops)
	}
}
