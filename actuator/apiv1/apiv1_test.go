package apiv1

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWho(t *testing.T) {
	for _, tc := range []struct{ user, header, want string }{
		{"ops", "alice", "alice via ops"},
		{"ops", "ops", "ops"},
		{"ops", "", "ops"},
		{"", "alice", "alice"},
		{"", "", "anonymous"},
		{"", "al\x1bice\n", "alice"},
		{"", "   ", "anonymous"},
	} {
		if got := Who(tc.user, tc.header); got != tc.want {
			t.Errorf("Who(%q, %q) = %q, want %q", tc.user, tc.header, got, tc.want)
		}
	}
	if got := Who("", "a"+strings.Repeat("é", 1000)); len(got) > maxWho || !utf8.ValidString(got) {
		t.Errorf("Who with a long header: %d bytes", len(got))
	}
}
