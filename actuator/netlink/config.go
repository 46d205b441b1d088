package netlink

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/exporter/configkit"
)

// Config is the `backend.netlink` section of route_actuator.yml.
type Config struct {
	// Table is "main" or a routing table number.
	Table string `yaml:"table"`
	// Protocol is the rtnetlink protocol number that marks routes (and
	// nexthop objects) this program owns; nothing else is ever touched.
	Protocol int `yaml:"protocol"`
	// Mode is "resilient" (nexthop objects in a resilient group) or "multipath".
	Mode      string         `yaml:"mode"`
	Buckets   int            `yaml:"buckets"`
	IdleTimer model.Duration `yaml:"idle_timer"`
}

// DefaultConfig is applied before the YAML is decoded.
var DefaultConfig = Config{Table: "main", Protocol: 250, Mode: "resilient", Buckets: 128}

// SetDefaults implements configkit.Defaulter.
func (c *Config) SetDefaults() { *c = DefaultConfig }

// Validate checks the section, each problem at its key.
func (c *Config) Validate(d *configkit.Decoder) {
	if _, err := c.TableID(); err != nil {
		d.Errorf(&c.Table, "%v", err)
	}
	// 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
	if c.Protocol < 5 || c.Protocol > 255 {
		d.Errorf(&c.Protocol, "netlink protocol %d out of range 5..255", c.Protocol)
	}
	switch c.Mode {
	case "resilient", "multipath":
	default:
		d.Errorf(&c.Mode, "netlink mode %q is not one of resilient, multipath", c.Mode)
	}
	if c.Mode == "resilient" && (c.Buckets < 1 || c.Buckets > 65535) {
		d.Errorf(&c.Buckets, "netlink buckets %d out of range 1..65535", c.Buckets)
	}
	if c.IdleTimer < 0 || time.Duration(c.IdleTimer) > time.Duration(1<<32-1)*10*time.Millisecond {
		d.Errorf(&c.IdleTimer, "netlink idle_timer %s out of range", c.IdleTimer)
	}
}

func (c *Config) validate() error { return configkit.Validate(c) }

// TableID resolves Table to its number.
func (c Config) TableID() (int, error) {
	switch c.Table {
	case "main", "":
		return 254, nil
	}
	n, err := strconv.ParseUint(c.Table, 10, 32)
	if err != nil || n == 0 || n == 255 {
		return 0, fmt.Errorf("netlink table %q is not \"main\" or a table number (1..2^32-1, not 255)", c.Table)
	}
	return int(n), nil
}
