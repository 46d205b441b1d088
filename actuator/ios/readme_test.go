package ios

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// The docs/backends.md's ios block documents exactly the config keys, metrics, failure
// strings and read command the backend has.
func TestDocsDocumentIOS(t *testing.T) {
	block := testenv.DocBlock(t, "docs/backends.md", "ios")
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		key, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
		if !regexp.MustCompile(`(?m)^\s+` + key + `:`).MatchString(block) {
			t.Errorf("config key %s is not documented", key)
		}
	}
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	// Unobserved histograms and fresh counters are gathered too; check all four.
	if len(have) != 4 {
		t.Errorf("gathered %d metrics, want 4", len(have))
	}
	for name := range have {
		if !strings.Contains(block, "`"+name+"`") {
			t.Errorf("metric %s is not documented", name)
		}
	}
	for _, m := range regexp.MustCompile("`(route_actuator_ios_[a-z_]+)`").FindAllStringSubmatch(block, -1) {
		if !have[m[1]] {
			t.Errorf("docs/backends.md documents %s, which does not exist", m[1])
		}
	}
	flat := strings.Join(strings.Fields(block), " ")
	for _, f := range extraFailures {
		if f != "%Invalid next hop address" && !strings.Contains(flat, "`"+f+"`") {
			t.Errorf("failure string %q is not documented", f)
		}
	}
	for _, p := range Platforms {
		if !strings.Contains(block, p) {
			t.Errorf("platform %s is not documented", p)
		}
	}
	if !strings.Contains(block, strings.ReplaceAll(showRoutes, "|", `\|`)) {
		t.Errorf("read command %q is not documented", showRoutes)
	}
}
