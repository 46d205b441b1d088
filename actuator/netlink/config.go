package netlink

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Config is the `backend.netlink` section of route_actuator.yml.
type Config struct {
	// Table is "main" or a routing table number.
	Table string `yaml:"table"`
	// Protocol is the rtnetlink protocol number that marks routes (and
	// nexthop objects) this program owns; nothing else is ever touched.
	Protocol int `yaml:"protocol"`
	// Mode is "resilient" (nexthop objects in a resilient group) or "multipath".
	Mode string `yaml:"mode"`
	// Buckets, IdleTimer and UnbalancedTimer size each resilient group
	// (docs/backends.md explains the sizing; docs/performance.md measures it).
	Buckets         int            `yaml:"buckets"`
	IdleTimer       model.Duration `yaml:"idle_timer"`
	UnbalancedTimer model.Duration `yaml:"unbalanced_timer"`
}

// DefaultConfig is applied before the YAML is decoded. On a restore, a
// bucket moves to the returning server once idle for IdleTimer (so no live
// flow moves), or when the group has been unbalanced for UnbalancedTimer
// (the cap on the returning server's starvation under a load that keeps
// every bucket busy); 4096 buckets keep idle buckets common at high rates.
var DefaultConfig = Config{Table: "main", Protocol: 250, Mode: "resilient", Buckets: 4096,
	IdleTimer: model.Duration(time.Second), UnbalancedTimer: model.Duration(20 * time.Second)}

// maxResTimer is the longest resilient-group timer every kernel keeps: the
// kernel stores it as 32-bit jiffies and silently wraps longer ones (at
// CONFIG_HZ=1000 above 49.7 days; measured at HZ=250: 17179870s reads back
// as 0.81s). Timers travel in clock_t (1/100 s).
const maxResTimer = time.Duration(1<<32-1) / 1000 * time.Second

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
	if _, err := c.TableID(); err != nil {
		return err
	}
	// 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
	if c.Protocol < 5 || c.Protocol > 255 {
		return fmt.Errorf("netlink protocol %d out of range 5..255", c.Protocol)
	}
	switch c.Mode {
	case "resilient", "multipath":
	default:
		return fmt.Errorf("netlink mode %q is not one of resilient, multipath", c.Mode)
	}
	if c.Mode == "resilient" && (c.Buckets < 1 || c.Buckets > 65535) {
		return fmt.Errorf("netlink buckets %d out of range 1..65535", c.Buckets)
	}
	for _, t := range []struct {
		key string
		d   model.Duration
	}{{"idle_timer", c.IdleTimer}, {"unbalanced_timer", c.UnbalancedTimer}} {
		if t.d < 0 || time.Duration(t.d) > maxResTimer {
			return fmt.Errorf("netlink %s %s out of range 0s..%s", t.key, t.d, model.Duration(maxResTimer))
		}
		// The kernel converts clock_t to jiffies: at HZ=250 a 10ms step reads
		// back rounded down, and the group would be rewritten on every pass.
		if time.Duration(t.d)%(100*time.Millisecond) != 0 {
			return fmt.Errorf("netlink %s %s is not a multiple of 100ms (the kernel rounds finer values to its tick)", t.key, t.d)
		}
	}
	if c.UnbalancedTimer != 0 && c.UnbalancedTimer < c.IdleTimer {
		return fmt.Errorf("netlink unbalanced_timer %s is shorter than idle_timer %s: busy buckets would move before idle ones (0s disables it)",
			c.UnbalancedTimer, c.IdleTimer)
	}
	return nil
}

// userHZ is the clock_t rate of the nexthop timers on the wire (USER_HZ).
const userHZ = 100

// clockT converts d to the kernel's clock_t (1/100 s).
func clockT(d model.Duration) uint32 { return uint32(time.Duration(d) / (time.Second / userHZ)) }

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
