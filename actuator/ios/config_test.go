package ios

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

func decodeConfig(t *testing.T, file string) (Config, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "config", file))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	return c, d.Decode(&c)
}

func TestConfigInvalid(t *testing.T) {
	for file, want := range map[string]string{
		"bad-no-address.yml":             "line 1: ios address must be set",
		"bad-no-username.yml":            "line 1: ios username must be set",
		"bad-no-credentials.yml":         "line 1: ios needs password_file or private_key_file",
		"bad-no-known-hosts.yml":         "line 1: ios known_hosts_file must be set (host keys are checked strictly)",
		"bad-passphrase-without-key.yml": "line 1: ios passphrase_file needs private_key_file",
		"bad-timeout.yml":                "line 1: ios timeout must be positive",
		"bad-port.yml":                   `line 1: ios address "198.51.100.1:99999": invalid port`,
		"bad-platform.yml":               `line 1: ios platform: platform "cisco_ios" not supported (supported: cisco_iosxe, cumulus_vtysh)`,
		"bad-tag.yml":                    "yaml: unmarshal errors:\n  line 5: cannot unmarshal !!int `-1` into uint32",
	} {
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
	if c.Platform != "cisco_iosxe" || c.Timeout != model.Duration(10*time.Second) || c.RouteTag != 0 || c.SaveConfig {
		t.Errorf("defaults not applied: %+v", c)
	}
	c, err = decodeConfig(t, "good-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Address: "[2001:db8::1]:2222", Username: "slaroute", PrivateKeyFile: "/etc/slaroute/id_ed25519",
		PassphraseFile: "/etc/slaroute/passphrase", KnownHostsFile: "/etc/slaroute/known_hosts",
		Platform: "cisco_iosxe", EnableSecretFile: "/etc/slaroute/enable", RouteTag: 53053,
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
