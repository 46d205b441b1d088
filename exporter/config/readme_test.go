package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The README's exporter block documents every configuration key.
func TestREADMEDocumentsKeys(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "<!-- BEGIN exporter -->")
	block, _, ok2 := strings.Cut(block, "<!-- END exporter -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no exporter block")
	}
	for _, section := range []any{rawConfig{}, settings{}, rawTarget{}} {
		rt := reflect.TypeOf(section)
		for i := range rt.NumField() {
			key, _, _ := strings.Cut(rt.Field(i).Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			if !regexp.MustCompile(`(?m)^\s*-? ?` + key + `:`).MatchString(block) {
				t.Errorf("config key %s is not documented", key)
			}
		}
	}
}
