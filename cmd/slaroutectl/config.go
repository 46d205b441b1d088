package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"go.yaml.in/yaml/v3"
)

// bindConfig sets the defaults of app's global flags from a YAML file whose
// keys are flag names (amtool's convention), so the command line still
// wins. The file is --config.file, else def when it exists. Unlike amtool,
// an unknown key is an error: a misspelt password file would otherwise
// surface as a puzzling 401.
func bindConfig(app *kingpin.Application, args []string, def string) error {
	file, explicit := def, false
	if pc, err := app.ParseContext(args); err == nil {
		for _, e := range pc.Elements {
			if f, ok := e.Clause.(*kingpin.FlagClause); ok && f.Model().Name == "config.file" && e.Value != nil {
				file, explicit = *e.Value, true
			}
		}
	}
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: want a mapping of flag names to values", file, m.Line)
	}
	var known []string
	for _, f := range app.Model().Flags {
		if !f.Hidden && f.Name != "config.file" && f.Name != "help" && f.Name != "version" {
			known = append(known, f.Name)
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return fmt.Errorf("%s:%d: unknown key %q (keys are flag names: %s)", file, k.Line, k.Value, strings.Join(known, ", "))
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("%s:%d: %s must be a single value", file, v.Line, k.Value)
		}
		app.GetFlag(k.Value).Default(v.Value)
	}
	return nil
}
