package bgp

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/slaroute/slaroute/exporter/configkit"
)

func decodeConfig(t *testing.T, file string) (Config, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	// Validation reads password files as New does: stand one in.
	pw := filepath.Join(t.TempDir(), "bgp-password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.ReplaceAll(string(b), "/etc/slaroute/bgp-password", pw))
	var c Config
	d, err := configkit.Decode(file, b, &c)
	if err == nil {
		c.Validate(d)
		err = d.Err()
	}
	return c, err
}

// TestConfigInvalid has one fixture per error; every bad-*.yml must be listed.
func TestConfigInvalid(t *testing.T) {
	cases := map[string]string{
		"bad-duplicate-neighbor.yml":     `bad-duplicate-neighbor.yml:5: bgp neighbor 198.51.100.1 is listed twice`,
		"bad-hold-time.yml":              `bad-hold-time.yml:4: bgp neighbor 198.51.100.1: hold_time 1s500ms is not a positive whole number of seconds (e.g. 9s)`,
		"bad-keepalive.yml":              `bad-keepalive.yml:4: bgp neighbor 198.51.100.1: keepalive 9s must be less than hold_time 9s`,
		"bad-local-address.yml":          `bad-local-address.yml:3: local_address: "router.example" is not valid: ParseAddr("router.example"): unexpected character (at "router.example")`,
		"bad-local-as-type.yml":          "bad-local-as-type.yml:1: cannot unmarshal !!str `private` into uint32",
		"bad-neighbor-address.yml":       `bad-neighbor-address.yml:4: address: "198.51.100.1:179" is not valid: ParseAddr("198.51.100.1:179"): unexpected character (at ":179")`,
		"bad-neighbor-family.yml":        `bad-neighbor-family.yml:6: bgp neighbor 2001:db8:100::1 is not of local_address 198.51.100.2's address family`,
		"bad-neighbor-not-mapping.yml":   "bad-neighbor-not-mapping.yml:4: cannot unmarshal !!str `198.51.100.1` into a neighbor (a mapping)",
		"bad-no-local-as.yml":            `bad-no-local-as.yml:1: bgp local_as must be set`,
		"bad-no-neighbor-address.yml":    `bad-no-neighbor-address.yml:4: bgp neighbor address must be set`,
		"bad-no-neighbors.yml":           `bad-no-neighbors.yml:3: bgp needs at least one neighbor`,
		"bad-no-peer-as.yml":             `bad-no-peer-as.yml:4: bgp neighbor 198.51.100.1: peer_as must be set`,
		"bad-no-router-id.yml":           `bad-no-router-id.yml:1: bgp router_id must be set`,
		"bad-port.yml":                   "bad-port.yml:4: cannot unmarshal !!int `70000` into uint16",
		"bad-reserved-local-as.yml":      `bad-reserved-local-as.yml:1: bgp local_as 65535 is reserved`,
		"bad-reserved-peer-as.yml":       `bad-reserved-peer-as.yml:4: bgp neighbor 198.51.100.1: peer_as 0 is reserved`,
		"bad-router-id.yml":              `bad-router-id.yml:2: bgp router_id "2001:db8::2" is not an IPv4 address`,
		"bad-short-hold-time.yml":        `bad-short-hold-time.yml:4: bgp neighbor 198.51.100.1: hold_time must be at least 3s`,
		"bad-unknown-field.yml":          `bad-unknown-field.yml:3: unknown field "graceful_restart"`,
		"bad-unknown-neighbor-field.yml": `bad-unknown-neighbor-field.yml:6: unknown field "passive" in neighbors[]`,
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
	if !strings.HasSuffix(c.Neighbors[0].PasswordFile, "/bgp-password") {
		t.Errorf("password_file = %q", c.Neighbors[0].PasswordFile)
	}
	v6 := netip.MustParseAddr
	want = Config{LocalAS: 4200000001, RouterID: v6("198.51.100.2"), LocalAddress: v6("2001:db8:100::2"),
		Neighbors: []Neighbor{
			{Address: v6("2001:db8:100::1"), PeerAS: 65000, Port: 1179, HoldTime: model.Duration(6 * time.Second),
				Keepalive: model.Duration(2 * time.Second), ConnectRetry: model.Duration(5 * time.Second), PasswordFile: c.Neighbors[0].PasswordFile},
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
