package netlink

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type wrapper struct {
	Netlink Config `yaml:"netlink"`
}

func TestConfigDefaults(t *testing.T) {
	var w wrapper
	if err := yaml.Unmarshal([]byte("netlink:\n  table: \"100\"\n  idle_timer: 1s\n"), &w); err != nil {
		t.Fatal(err)
	}
	c := w.Netlink
	if id, _ := c.TableID(); id != 100 || c.Protocol != 250 || c.Mode != "resilient" || c.Buckets != 4096 ||
		time.Duration(c.IdleTimer) != time.Second || time.Duration(c.UnbalancedTimer) != 20*time.Second {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigInvalid(t *testing.T) {
	for file, want := range map[string]string{
		"bad-table.yml":             `line 2: netlink table "mian" is not "main" or a table number (1..2^32-1, not 255)`,
		"zero-table.yml":            `line 2: netlink table "0" is not "main" or a table number (1..2^32-1, not 255)`,
		"bad-protocol.yml":          `line 2: netlink protocol 4 out of range 5..255`,
		"bad-mode.yml":              `line 2: netlink mode "ecmp" is not one of resilient, multipath`,
		"bad-buckets.yml":           `line 2: netlink buckets 0 out of range 1..65535`,
		"bad-idle-timer.yml":        `line 2: netlink idle_timer 50d out of range 0s..49d17h2m47s`,
		"bad-unbalanced-timer.yml":  `line 2: netlink unbalanced_timer 50d out of range 0s..49d17h2m47s`,
		"bad-timer-unit.yml":        `line 2: netlink idle_timer 50ms is not a multiple of 100ms (the kernel rounds finer values to its tick)`,
		"unbalanced-below-idle.yml": `line 2: netlink unbalanced_timer 1s is shorter than idle_timer 2s: busy buckets would move before idle ones (0s disables it)`,
	} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		var w wrapper
		err = yaml.Unmarshal(b, &w)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", file, err, want)
		}
	}
}
