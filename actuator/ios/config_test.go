package ios

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/exporter/configkit"
)

// decodeConfig decodes and validates a backend.ios section as
// route_actuator's configuration does.
func decodeConfig(t *testing.T, file string) (Config, *configkit.Decoder, error) {
	t.Helper()
	file = filepath.Join("testdata", "config", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	d, err := configkit.Decode(file, b, &c)
	if err == nil {
		c.Validate(d)
		err = d.Err()
	}
	return c, d, err
}

func TestConfigInvalid(t *testing.T) {
	for file, want := range map[string]string{
		"bad-no-address.yml":             ":1: ios address must be set",
		"bad-no-username.yml":            ":1: ios username must be set",
		"bad-no-credentials.yml":         ":1: ios needs password_file or private_key_file",
		"bad-no-known-hosts.yml":         ":1: ios known_hosts_file must be set (host keys are checked strictly)",
		"bad-passphrase-without-key.yml": ":4: ios passphrase_file needs private_key_file",
		"bad-timeout.yml":                ":5: ios timeout must be positive",
		"bad-port.yml":                   `:1: ios address "198.51.100.1:99999": invalid port`,
		"bad-platform.yml":               `:5: ios platform: platform "cisco_ios" not supported (supported: cisco_iosxe, cumulus_vtysh)`,
		"bad-tag.yml":                    ":5: cannot unmarshal !!int `-1` into uint32",
		"bad-duration.yml":               `:5: timeout: "10 s" is not a duration (e.g. 500ms, 10s, 1m)`,
		"bad-unreadable-password.yml":    ":3: ios password_file: open testdata/config/no-such-file: no such file or directory",
		"bad-empty-enable-secret.yml":    ":5: ios enable_secret_file testdata/config/empty is empty",
		"bad-encrypted-key.yml":          ":3: ios private_key_file testdata/config/fixture_key is encrypted: set passphrase_file",
		"bad-unknown-host.yml":           ":4: known_hosts testdata/config/known_hosts has no key for 198.51.100.2 (host keys are checked strictly)",
	} {
		t.Run(file, func(t *testing.T) {
			_, _, err := decodeConfig(t, file)
			if want = filepath.Join("testdata", "config", file) + want; err == nil || err.Error() != want {
				t.Errorf("error = %v, want %q", err, want)
			}
		})
	}
}

func TestConfigValid(t *testing.T) {
	c, _, err := decodeConfig(t, "good-minimal.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Platform != "cisco_iosxe" || c.Timeout != model.Duration(10*time.Second) || c.RouteTag != 0 || c.SaveConfig {
		t.Errorf("defaults not applied: %+v", c)
	}
	c, _, err = decodeConfig(t, "good-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Address: "[2001:db8::1]:2222", Username: "slaroute", PrivateKeyFile: "testdata/config/fixture_key",
		PassphraseFile: "testdata/config/passphrase", KnownHostsFile: "testdata/config/known_hosts",
		Platform: "cisco_iosxe", EnableSecretFile: "testdata/config/enable", RouteTag: 53053,
		SaveConfig: true, Timeout: model.Duration(5 * time.Second),
	}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestNewRejectsBadFiles(t *testing.T) {
	f := newFakeIOS(t, testPassword, "")
	base := Config{
		Address: f.addr, Username: "u", PasswordFile: writeFile(t, "pw", testPassword),
		KnownHostsFile: f.knownHosts("ssh-ed25519"), Platform: "cisco_iosxe", Timeout: model.Duration(time.Second),
	}
	empty := writeFile(t, "empty", "\n")
	garbage := writeFile(t, "garbage", "not a key\n")
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"missing password": {func(c *Config) { c.PasswordFile = "/nonexistent/pw" }, "ios password_file: open /nonexistent/pw: no such file or directory"},
		"empty secret":     {func(c *Config) { c.EnableSecretFile = empty }, "ios enable_secret_file " + empty + " is empty"},
		"bad key":          {func(c *Config) { c.PrivateKeyFile = garbage }, "ios private_key_file " + garbage + ": ssh: no key found"},
		"missing known_hosts": {func(c *Config) { c.KnownHostsFile = "/nonexistent/kh" },
			"known_hosts: open /nonexistent/kh: no such file or directory"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if _, err := New(c, nil, nil, nil); err == nil || err.Error() != tc.want {
				t.Errorf("New error = %v, want %q", err, tc.want)
			}
		})
	}
}

// Secret files readable by group or others load, with a warning naming the
// file and its mode, as ssh warns; 0600 files and known_hosts get none.
func TestConfigWarnsOpenSecrets(t *testing.T) {
	dir := t.TempDir()
	open, closed := filepath.Join(dir, "open"), filepath.Join(dir, "closed")
	for path, mode := range map[string]os.FileMode{open: 0o640, closed: 0o600} {
		if err := os.WriteFile(path, []byte("secret\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "ios.yml")
	b := []byte("address: 198.51.100.1\nusername: u\npassword_file: " + open + "\nenable_secret_file: " + closed +
		"\nknown_hosts_file: testdata/config/known_hosts\n")
	var c Config
	d, err := configkit.Decode(file, b, &c)
	if err != nil {
		t.Fatal(err)
	}
	c.Validate(d)
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{file + ":3: ios password_file " + open + " is readable by group or others (mode 0640): chmod 600 it"}
	if got := d.Warnings(); !slices.Equal(got, want) {
		t.Errorf("warnings\n got %q\nwant %q", got, want)
	}
}
