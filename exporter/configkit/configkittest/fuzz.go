// Package configkittest holds a configuration loader to configkit's contract
// under fuzzing.
package configkittest

import (
	"regexp"
	"strings"
	"testing"
)

var errLine = regexp.MustCompile(`^f\.yml:[1-9][0-9]*: `)

// Fuzz checks parse on every input: it never panics, every error line reads
// file:line: reason, and an accepted configuration, written out by render
// with every key explicit, parses to the same configuration.
func Fuzz[C any](f *testing.F, parse func(file string, b []byte) (C, error), render func(C) []byte) {
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := parse("f.yml", b)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !errLine.MatchString(line) {
					t.Fatalf("error line %q lacks file:line", line)
				}
			}
			return
		}
		out := render(cfg)
		again, err := parse("f.yml", out)
		if err != nil {
			t.Fatalf("accepted configuration written out does not parse: %v\n%s", err, out)
		}
		if o2 := render(again); string(o2) != string(out) {
			t.Fatalf("accepted configuration changed when parsed again:\n%s\n---\n%s", out, o2)
		}
	})
}
