package netlink

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/route"
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
	if c.Mode != "resilient" && c.Mode != "multipath" {
		d.Errorf(&c.Mode, "netlink mode %q is not one of resilient, multipath", c.Mode)
	}
	if c.Mode == "resilient" && (c.Buckets < 1 || c.Buckets > 65535) {
		d.Errorf(&c.Buckets, "netlink buckets %d out of range 1..65535", c.Buckets)
	}
	timersOK := true
	for _, t := range []struct {
		key string
		v   *model.Duration
	}{{"idle_timer", &c.IdleTimer}, {"unbalanced_timer", &c.UnbalancedTimer}} {
		if *t.v < 0 || time.Duration(*t.v) > maxResTimer {
			d.Errorf(t.v, "netlink %s %s out of range 0s..%s", t.key, *t.v, model.Duration(maxResTimer))
			timersOK = false
			continue
		}
		// The kernel converts clock_t to jiffies: at HZ=250 a 10ms step reads
		// back rounded down, and the group would be rewritten on every pass.
		if time.Duration(*t.v)%(100*time.Millisecond) != 0 {
			d.Errorf(t.v, "netlink %s %s is not a multiple of 100ms (the kernel rounds finer values to its tick)", t.key, *t.v)
			timersOK = false
		}
	}
	if timersOK && c.UnbalancedTimer != 0 && c.UnbalancedTimer < c.IdleTimer {
		d.Errorf(&c.UnbalancedTimer, "netlink unbalanced_timer %s is shorter than idle_timer %s: busy buckets would move before idle ones (0s disables it)",
			c.UnbalancedTimer, c.IdleTimer)
	}
}

// CheckPlacement accepts a table number, or a VRF by the name of its
// device (an interface name: at most 15 bytes), whose table is looked up
// when a route is changed.
func (c *Config) CheckPlacement(p route.Placement) error {
	if len(p.VRF) > 15 {
		return fmt.Errorf("backend netlink: vrf %q is longer than an interface name (15 bytes)", p.VRF)
	}
	return nil
}

// clockT converts d to the unit of the nexthop timers on the wire: clock_t,
// at USER_HZ = 100 per second.
func clockT(d model.Duration) uint32 { return uint32(time.Duration(d) / (time.Second / 100)) }

// TableID resolves Table to its number.
func (c Config) TableID() (int, error) {
	if c.Table == "main" || c.Table == "" {
		return 254, nil
	}
	n, err := strconv.ParseUint(c.Table, 10, 32)
	if err != nil || n == 0 || n == 255 {
		return 0, fmt.Errorf("netlink table %q is not \"main\" or a table number (1..2^32-1, not 255)", c.Table)
	}
	return int(n), nil
}
