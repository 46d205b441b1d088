package netlink

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slaroute/slaroute/exporter/configkit"
)

// decode decodes and validates a backend.netlink section as route_actuator's
// configuration does.
func decode(t *testing.T, file string, b []byte) (Config, error) {
	t.Helper()
	var w struct {
		Netlink Config `yaml:"netlink"`
	}
	d, err := configkit.Decode(file, b, &w)
	if err == nil {
		w.Netlink.Validate(d)
		err = d.Err()
	}
	return w.Netlink, err
}

func TestConfigDefaults(t *testing.T) {
	c, err := decode(t, "t.yml", []byte("netlink:\n  table: \"100\"\n  idle_timer: 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := c.TableID(); id != 100 || c.Protocol != 250 || c.Mode != "resilient" || c.Buckets != 4096 ||
		time.Duration(c.IdleTimer) != time.Second || time.Duration(c.UnbalancedTimer) != 20*time.Second {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigInvalid(t *testing.T) {
	for file, want := range map[string]string{
		"bad-table.yml":             `:2: netlink table "mian" is not "main" or a table number (1..2^32-1, not 255)`,
		"zero-table.yml":            `:2: netlink table "0" is not "main" or a table number (1..2^32-1, not 255)`,
		"bad-protocol.yml":          `:2: netlink protocol 4 out of range 5..255`,
		"bad-mode.yml":              `:2: netlink mode "ecmp" is not one of resilient, multipath`,
		"bad-buckets.yml":           `:2: netlink buckets 0 out of range 1..65535`,
		"bad-idle-timer.yml":        `:2: netlink idle_timer 50d out of range 0s..49d17h2m47s`,
		"bad-unbalanced-timer.yml":  `:2: netlink unbalanced_timer 50d out of range 0s..49d17h2m47s`,
		"bad-timer-unit.yml":        `:2: netlink idle_timer 50ms is not a multiple of 100ms (the kernel rounds finer values to its tick)`,
		"unbalanced-below-idle.yml": `:3: netlink unbalanced_timer 1s is shorter than idle_timer 2s: busy buckets would move before idle ones (0s disables it)`,
	} {
		path := filepath.Join("testdata", file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decode(t, path, b); err == nil || err.Error() != path+want {
			t.Errorf("%s: error %v, want %q", file, err, path+want)
		}
	}
}
