package ios

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// Config is the `backend.ios` section of route_actuator.yml. Secrets are
// never inline: only paths to files, read at start and on every reload.
type Config struct {
	Address          string         `yaml:"address"` // host:port, port default 22
	Username         string         `yaml:"username"`
	PasswordFile     string         `yaml:"password_file"`
	PrivateKeyFile   string         `yaml:"private_key_file"`
	PassphraseFile   string         `yaml:"passphrase_file"`
	KnownHostsFile   string         `yaml:"known_hosts_file"`
	Platform         string         `yaml:"platform"`
	EnableSecretFile string         `yaml:"enable_secret_file"`
	RouteTag         uint32         `yaml:"route_tag"` // 0 = no tag
	SaveConfig       bool           `yaml:"save_config"`
	Timeout          model.Duration `yaml:"timeout"`
}

// DefaultConfig is applied before the YAML is decoded.
var DefaultConfig = Config{Platform: "cisco_iosxe", Timeout: model.Duration(10 * time.Second)}

// SetDefaults implements configkit.Defaulter.
func (c *Config) SetDefaults() { *c = DefaultConfig }

// Validate checks the section and loads the files it names as New does, so
// that --config.check refuses what start would; secrets readable by group or
// others get a warning.
func (c *Config) Validate(d *configkit.Decoder) {
	required := func(missing bool, reason string) {
		if missing {
			d.Errorf(c, "%s", reason)
		}
	}
	required(c.Address == "", "ios address must be set")
	required(c.Username == "", "ios username must be set")
	required(c.PasswordFile == "" && c.PrivateKeyFile == "", "ios needs password_file or private_key_file")
	required(c.KnownHostsFile == "", "ios known_hosts_file must be set (host keys are checked strictly)")
	if c.PassphraseFile != "" && c.PrivateKeyFile == "" {
		d.Errorf(&c.PassphraseFile, "ios passphrase_file needs private_key_file")
	}
	if c.Timeout <= 0 {
		d.Errorf(&c.Timeout, "ios timeout must be positive")
	}
	if _, err := loadPlatform(c.Platform); err != nil {
		d.Errorf(&c.Platform, "ios platform: %v", err)
	}
	if host, port, err := splitAddress(c.Address); err != nil {
		d.Errorf(&c.Address, "%v", err)
	} else if c.Address != "" && c.KnownHostsFile != "" {
		if _, err := hostKeyAlgorithms(c.KnownHostsFile, net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
			d.Errorf(&c.KnownHostsFile, "%v", err)
		}
	}
	for _, f := range []struct {
		key  string
		path *string
	}{{"password_file", &c.PasswordFile}, {"private_key_file", &c.PrivateKeyFile}, {"passphrase_file", &c.PassphraseFile},
		{"enable_secret_file", &c.EnableSecretFile}} {
		var err error
		switch {
		case *f.path == "":
			continue
		case f.path == &c.PrivateKeyFile:
			_, err = readKey(c.PrivateKeyFile, c.PassphraseFile)
		case f.path != &c.PassphraseFile: // read with the key
			_, err = readSecret(*f.path, f.key)
		}
		if err != nil {
			d.Errorf(f.path, "%v", err)
		}
		d.WarnOpenSecret(f.path, "ios "+f.key)
	}
}

// CheckPlacement accepts VRFs (`ip route vrf NAME ...`) and refuses table
// numbers, which IOS does not have.
func (c *Config) CheckPlacement(p route.Placement) error {
	if p.Table != 0 {
		return fmt.Errorf("backend ios places routes by vrf name, not by table number")
	}
	if !validVRF(p.VRF) {
		return fmt.Errorf("backend ios: %q is not a VRF name", p.VRF)
	}
	return nil
}
