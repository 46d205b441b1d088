package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"

	"github.com/slaroute/slaroute/deploy/lab/testenv"
)

// docs/operations.md's slaroutectl block documents exactly the flags and
// commands the binary has.
func TestDocsDocumentFlags(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(b), "<!-- BEGIN slaroutectl -->")
	block, _, ok := strings.Cut(block, "<!-- END slaroutectl -->")
	if !ok {
		t.Fatal("docs/operations.md has no slaroutectl block")
	}
	var o Options
	app := newApp(&o)
	check := func(where string, flags []*kingpin.FlagModel) {
		for _, f := range flags {
			if f.Hidden || f.Name == "help" || f.Name == "version" {
				continue
			}
			if !strings.Contains(block, "--"+f.Name+"`") {
				t.Errorf("%sflag --%s is not documented", where, f.Name)
			}
		}
	}
	check("", app.Model().Flags)
	var walk func(cmds []*kingpin.CmdModel)
	walk = func(cmds []*kingpin.CmdModel) {
		for _, c := range cmds {
			if c.Name == "help" {
				continue
			}
			if len(c.Commands) == 0 && !strings.Contains(string(b), "`"+c.FullCommand) {
				t.Errorf("command %s is not documented", c.FullCommand)
			}
			for _, f := range c.Flags {
				if !f.Hidden && app.GetFlag(f.Name) == nil && !strings.Contains(block, "`"+c.FullCommand+" --"+f.Name+"`") {
					t.Errorf("flag %s --%s is not documented", c.FullCommand, f.Name)
				}
			}
			walk(c.Commands)
		}
	}
	walk(app.Model().Commands)
}
