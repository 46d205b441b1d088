package dampening

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// docs/operations.md documents every key of the section, and the defaults
// it says the example uses.
func TestDocsDocumentKeys(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	rt := reflect.TypeOf(Config{})
	for i := range rt.NumField() {
		key, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
		if !regexp.MustCompile(`(?m)^\s+` + key + `: `).MatchString(doc) {
			t.Errorf("dampening key %s is not documented", key)
		}
	}
	// The documented example is the defaults ("These values are also the defaults").
	for key, want := range map[string]string{"half_life": "60s", "penalty": "1000", "suppress_threshold": "2500", "reuse_threshold": "750", "max_suppress": "10m"} {
		if !strings.Contains(doc, "  "+key+": "+want+" ") {
			t.Errorf("example %s: %s not found", key, want)
		}
	}
	if DefaultConfig != issueConfig {
		t.Errorf("DefaultConfig %+v differs from the documented example %+v", DefaultConfig, issueConfig)
	}
}
