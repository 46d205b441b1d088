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
	if id, _ := c.TableID(); id != 100 || c.Protocol != 250 || c.Mode != "resilient" || c.Buckets != 128 || time.Duration(c.IdleTimer) != time.Second {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigInvalid(t *testing.T) {
	for file, want := range map[string]string{
		"bad-table.yml":      `line 2: netlink table "mian" is not "main" or a table number (1..2^32-1, not 255)`,
		"zero-table.yml":     `line 2: netlink table "0" is not "main" or a table number (1..2^32-1, not 255)`,
		"bad-protocol.yml":   `line 2: netlink protocol 4 out of range 5..255`,
		"bad-mode.yml":       `line 2: netlink mode "ecmp" is not one of resilient, multipath`,
		"bad-buckets.yml":    `line 2: netlink buckets 0 out of range 1..65535`,
		"bad-idle-timer.yml": `line 2: netlink idle_timer 500d out of range`,
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
