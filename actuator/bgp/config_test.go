package bgp

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

func decodeConfig(t *testing.T, file string) (Config, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	return c, d.Decode(&c)
}

// TestConfigInvalid has one fixture per error; every bad-*.yml must be listed.
func TestConfigInvalid(t *testing.T) {
	cases := map[string]string{
		"bad-no-local-as.yml":            "line 1: bgp local_as must be set",
		"bad-reserved-local-as.yml":      "line 1: bgp local_as 65535 is reserved",
		"bad-local-as-type.yml":          "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str `private` into uint32",
		"bad-no-router-id.yml":           "line 1: bgp router_id must be set",
		"bad-router-id.yml":              `line 2: bgp router_id "2001:db8::2" is not an IPv4 address`,
		"bad-local-address.yml":          `line 3: bgp local_address "router.example" is not an IP address`,
		"bad-no-neighbors.yml":           "line 3: bgp needs at least one neighbor",
		"bad-neighbor-family.yml":        "line 6: bgp neighbor 2001:db8:100::1 is not of local_address 198.51.100.2's address family",
		"bad-duplicate-neighbor.yml":     "line 5: bgp neighbor 198.51.100.1 is listed twice",
		"bad-unknown-field.yml":          `line 3: unknown field "graceful_restart" in backend.bgp (known: local_as, router_id, local_address, neighbors)`,
		"bad-unknown-neighbor-field.yml": `line 6: unknown field "passive" in bgp neighbor (known: address, peer_as, port, hold_time, keepalive, connect_retry, password_file)`,
		"bad-neighbor-not-mapping.yml":   "line 4: bgp neighbor must be a mapping",
		"bad-no-neighbor-address.yml":    "line 4: bgp neighbor address must be set",
		"bad-neighbor-address.yml":       `line 4: bgp neighbor address "198.51.100.1:179" is not an IP address`,
		"bad-no-peer-as.yml":             "line 4: bgp neighbor 198.51.100.1: peer_as must be set",
		"bad-reserved-peer-as.yml":       "line 4: bgp neighbor 198.51.100.1: peer_as 0 is reserved",
		"bad-port.yml":                   "line 4: bgp neighbor 198.51.100.1: port 70000 out of range 1..65535",
		"bad-hold-time.yml":              `line 4: bgp neighbor 198.51.100.1: hold_time "1500ms" is not a positive whole number of seconds (e.g. 9s)`,
		"bad-short-hold-time.yml":        "line 4: bgp neighbor 198.51.100.1: hold_time must be at least 3s",
		"bad-keepalive.yml":              "line 4: bgp neighbor 198.51.100.1: keepalive 9s must be less than hold_time 9s",
	}
	files, _ := filepath.Glob("testdata/bad-*.yml")
	for _, f := range files {
		if _, ok := cases[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected error", f)
		}
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := decodeConfig(t, file)
			if err == nil || err.Error() != want {
				t.Errorf("error = %v, want %q", err, want)
			}
		})
	}
}

func TestConfigValid(t *testing.T) {
	c, err := decodeConfig(t, "good-minimal.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{LocalAS: 65001, RouterID: netip.MustParseAddr("198.51.100.2"),
		Neighbors: []Neighbor{{Address: netip.MustParseAddr("198.51.100.1"), PeerAS: 65000, Port: 179,
			HoldTime: model.Duration(9 * time.Second), Keepalive: model.Duration(3 * time.Second), ConnectRetry: model.Duration(2 * time.Second)}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	c, err = decodeConfig(t, "good-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	v6 := netip.MustParseAddr
	want = Config{LocalAS: 4200000001, RouterID: v6("198.51.100.2"), LocalAddress: v6("2001:db8:100::2"),
		Neighbors: []Neighbor{
			{Address: v6("2001:db8:100::1"), PeerAS: 65000, Port: 1179, HoldTime: model.Duration(6 * time.Second),
				Keepalive: model.Duration(2 * time.Second), ConnectRetry: model.Duration(5 * time.Second), PasswordFile: "/etc/slaroute/bgp-password"},
			{Address: v6("2001:db8:100::3"), PeerAS: 65000, Port: 179, HoldTime: model.Duration(9 * time.Second),
				Keepalive: model.Duration(3 * time.Second), ConnectRetry: model.Duration(2 * time.Second)},
		}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestNewReadsPasswordFiles(t *testing.T) {
	c, err := decodeConfig(t, "good-minimal.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct{ content, want string }{
		"ok":      {"s3cret\n", ""},
		"empty":   {"\n", "must hold 1..80 bytes"},
		"long":    {strings.Repeat("x", 81), "must hold 1..80 bytes"},
		"missing": {"", "no such file"},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, name)
			if name != "missing" {
				if err := os.WriteFile(f, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c.Neighbors[0].PasswordFile = f
			b, err := New(c, nil, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && b.passwords[c.Neighbors[0].Address] != "s3cret":
				t.Errorf("password %q", b.passwords[c.Neighbors[0].Address])
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}
