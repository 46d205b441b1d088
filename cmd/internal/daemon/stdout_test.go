//go:build integration

package daemon_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// TestHelpVersionStdout runs each built binary: --help and --version answer
// on stdout, exit 0 and leave stderr empty (as blackbox_exporter does).
func TestHelpVersionStdout(t *testing.T) {
	for _, name := range []string{"dns_sla_exporter", "route_actuator", "slaroutectl"} {
		bin := testenv.Binary(t, name)
		for flag, want := range map[string]string{"--help": "usage: " + name, "-h": "usage: " + name, "--version": name + ", version "} {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, flag)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("%s %s: %v; stderr %q", name, flag, err, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), want) {
				t.Errorf("%s %s: stdout %q, want prefix %q", name, flag, stdout.String(), want)
			}
			if stderr.Len() != 0 {
				t.Errorf("%s %s: stderr %q, want empty", name, flag, stderr.String())
			}
		}
		// A usage error still goes to stderr with a non-zero exit.
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "--no-such-flag")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err == nil || stdout.Len() != 0 || !strings.Contains(stderr.String(), "no-such-flag") {
			t.Errorf("%s --no-such-flag: err %v, stdout %q, stderr %q", name, err, stdout.String(), stderr.String())
		}
	}
}
