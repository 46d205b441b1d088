package lab

import (
	"os"
	"os/exec"
	"testing"
)

// requireLab skips (or, with CI=true, fails) unless the lab can run here:
// root, and every Debian tool it drives.
func requireLab(t testing.TB, tools ...string) {
	t.Helper()
	miss := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		miss("lab needs root (network namespaces)")
	}
	for _, tool := range append([]string{"ip", "dnsmasq", "sysctl"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			miss("lab needs %s: %v", tool, err)
		}
	}
}
