//go:build linux

package lab

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// ip runs iproute2 and returns its stdout; the error carries stderr.
func ip(args ...string) (string, error) {
	return run("ip", args...)
}

func run(name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// nsExec runs a command inside namespace ns.
func nsExec(ns string, args ...string) (string, error) {
	return ip(append([]string{"netns", "exec", ns}, args...)...)
}

func sysctl(ns string, kv ...string) error {
	for _, s := range kv {
		if _, err := nsExec(ns, "sysctl", "-qw", s); err != nil {
			return err
		}
	}
	return nil
}

// namespaces lists the named network namespaces.
func namespaces() ([]string, error) {
	out, err := ip("netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}
