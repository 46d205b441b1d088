package ios

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
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

// UnmarshalYAML applies defaults and validates, naming the offending line.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = DefaultConfig
	type plain Config
	if err := node.Decode((*plain)(c)); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	return nil
}

func (c *Config) validate() error {
	switch {
	case c.Address == "":
		return fmt.Errorf("ios address must be set")
	case c.Username == "":
		return fmt.Errorf("ios username must be set")
	case c.PasswordFile == "" && c.PrivateKeyFile == "":
		return fmt.Errorf("ios needs password_file or private_key_file")
	case c.KnownHostsFile == "":
		return fmt.Errorf("ios known_hosts_file must be set (host keys are checked strictly)")
	case c.PassphraseFile != "" && c.PrivateKeyFile == "":
		return fmt.Errorf("ios passphrase_file needs private_key_file")
	case c.Timeout <= 0:
		return fmt.Errorf("ios timeout must be positive")
	}
	if _, _, err := splitAddress(c.Address); err != nil {
		return err
	}
	if _, err := loadPlatform(c.Platform); err != nil {
		return fmt.Errorf("ios platform: %w", err)
	}
	return nil
}
