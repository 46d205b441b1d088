package ios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scrapli/scrapligo/assets"
	"github.com/scrapli/scrapligo/platform"
	"go.yaml.in/yaml/v3"
)

// Platforms are the scrapligo platforms the backend supports: Cisco IOS /
// IOS-XE, and FRR's vtysh (as Cumulus ships it: login shell, then `vtysh`).
var Platforms = []string{"cisco_iosxe", "cumulus_vtysh"}

// extraFailures are CLI error strings the stock definitions miss; FRR's
// vtysh prints some of them, older IOS trains others.
var extraFailures = []string{
	"% Invalid input",
	"% Incomplete command",
	"% Command incomplete",
	"% Unknown command",
	"% Ambiguous command",
	"% Bad mask",
	"% Inconsistent address and mask",
	"% Invalid next hop address",
	"%Invalid next hop address",
	"% Error",
	"% Access denied",
	"% Bad secrets",
	"% Configuration is locked",
}

// loadPlatform returns scrapligo's embedded definition for name with two
// changes: prompt patterns accept one trailing space (FRR's vtysh prints
// `rtr1# `; IOS prints none, which still matches) and the failure strings
// include extraFailures. Only platforms whose CLI takes IOS `ip route`
// lines are accepted, and only from scrapligo's embedded definitions: a path
// or URL would load definitions we never test.
func loadPlatform(name string) (*platform.Platform, error) {
	if !slices.Contains(Platforms, name) {
		return nil, fmt.Errorf("platform %q not supported (supported: %s)", name, strings.Join(Platforms, ", "))
	}
	b, err := assets.Assets.ReadFile("platforms/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", name, err)
	}
	var def platform.Definition
	if err := yaml.Unmarshal(b, &def); err != nil {
		return nil, fmt.Errorf("platform %q: %w", name, err)
	}
	p := def.Default
	if p == nil || p.DriverType != "network" || len(p.PrivilegeLevels) == 0 {
		return nil, fmt.Errorf("scrapligo platform %q is not a network platform", name)
	}
	for _, pl := range p.PrivilegeLevels {
		if strings.HasSuffix(pl.Pattern, "$") && !strings.HasSuffix(pl.Pattern, " ?$") {
			pl.Pattern = strings.TrimSuffix(pl.Pattern, "$") + " ?$"
		}
	}
	for _, f := range extraFailures {
		if !slices.Contains(p.FailedWhenContains, f) {
			p.FailedWhenContains = append(p.FailedWhenContains, f)
		}
	}
	// Never start a pager: vtysh's `terminal paginate` does.
	p.NetworkOnOpen = slices.DeleteFunc(p.NetworkOnOpen, func(op map[string]any) bool {
		c, _ := op["command"].(string)
		return strings.Contains(c, "paginate")
	})
	return p, nil
}
