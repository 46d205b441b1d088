//go:build linux

package lab

import (
	"testing"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// requireLab skips (or, with CI=true, fails) unless the lab can run here:
// root, and every Debian tool it drives.
func requireLab(t testing.TB, tools ...string) {
	t.Helper()
	testenv.RequireRoot(t, "network namespaces")
	for _, tool := range append([]string{"ip", "dnsmasq", "knotd", "sysctl"}, tools...) {
		testenv.RequireTool(t, tool)
	}
}
