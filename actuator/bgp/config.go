package bgp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slaroute/slaroute/actuator/route"
	"github.com/slaroute/slaroute/exporter/configkit"
)

// Config is the `backend.bgp` section of route_actuator.yml.
type Config struct {
	LocalAS uint32 `yaml:"local_as"`
	// RouterID is the speaker's BGP identifier (an IPv4 address).
	RouterID netip.Addr `yaml:"router_id"`
	// LocalAddress is the source address of the sessions; unset, the kernel picks one.
	LocalAddress netip.Addr `yaml:"local_address"`
	Neighbors    []Neighbor `yaml:"neighbors"`
}

// Neighbor is one router the speaker peers with. Every neighbor gets every path.
type Neighbor struct {
	Address netip.Addr `yaml:"address"`
	PeerAS  uint32     `yaml:"peer_as"`
	Port    uint16     `yaml:"port"`
	// HoldTime bounds how long a hung actuator host keeps its paths on the
	// router (a killed process closes TCP at once): keep it short.
	HoldTime     model.Duration `yaml:"hold_time"`
	Keepalive    model.Duration `yaml:"keepalive"`
	ConnectRetry model.Duration `yaml:"connect_retry"`
	// PasswordFile holds the TCP MD5 (RFC 2385) password, read at start and on reload.
	PasswordFile string `yaml:"password_file"`
}

// DefaultNeighbor holds the defaults of each neighbor's optional keys.
var DefaultNeighbor = Neighbor{
	Port:         179,
	HoldTime:     model.Duration(9 * time.Second),
	Keepalive:    model.Duration(3 * time.Second),
	ConnectRetry: model.Duration(2 * time.Second),
}

// SetDefaults implements configkit.Defaulter.
func (c *Config) SetDefaults() { *c = Config{} }

// SetDefaults implements configkit.Defaulter for each neighbor.
func (nb *Neighbor) SetDefaults() { *nb = DefaultNeighbor }

// reservedAS are the AS numbers RFC 7607 and RFC 4893 set aside.
func reservedAS(as uint32) bool { return as == 0 || as == 65535 || as == 4294967295 }

// Validate checks the section, each problem at its key.
func (c *Config) Validate(d *configkit.Decoder) {
	switch {
	case !d.Set(&c.LocalAS):
		d.Errorf(&c.LocalAS, "bgp local_as must be set")
	case reservedAS(c.LocalAS):
		d.Errorf(&c.LocalAS, "bgp local_as %d is reserved", c.LocalAS)
	}
	switch {
	case !d.Set(&c.RouterID):
		d.Errorf(&c.RouterID, "bgp router_id must be set")
	case !c.RouterID.Is4():
		d.Errorf(&c.RouterID, "bgp router_id %q is not an IPv4 address", c.RouterID)
	}
	if c.LocalAddress.Zone() != "" {
		d.Errorf(&c.LocalAddress, "bgp local_address %q has a zone", c.LocalAddress)
	}
	if len(c.Neighbors) == 0 {
		d.Errorf(&c.Neighbors, "bgp needs at least one neighbor")
	}
	for i := range c.Neighbors {
		nb := &c.Neighbors[i]
		nb.validate(d)
		if c.LocalAddress.IsValid() && nb.Address.IsValid() && c.LocalAddress.Is4() != nb.Address.Is4() {
			d.Errorf(nb, "bgp neighbor %s is not of local_address %s's address family", nb.Address, c.LocalAddress)
		}
		for _, prev := range c.Neighbors[:i] {
			if prev.Address == nb.Address {
				d.Errorf(nb, "bgp neighbor %s is listed twice", nb.Address)
			}
		}
	}
}

// CheckPlacement refuses every VRF and table: the speaker announces in its
// global RIB over sessions in the global table. To land the paths in a VRF,
// peer from an interface of that VRF on the router (or import them there).
func (c *Config) CheckPlacement(route.Placement) error {
	return fmt.Errorf("backend bgp announces to the router's global table only: vrf and table are not supported (peer from the VRF on the router instead)")
}

func (nb *Neighbor) validate(d *configkit.Decoder) {
	a := nb.Address
	switch {
	case !d.Set(&nb.Address):
		d.Errorf(nb, "bgp neighbor address must be set")
		return
	case a.Zone() != "":
		d.Errorf(&nb.Address, "bgp neighbor address %q has a zone", a)
	}
	switch {
	case !d.Set(&nb.PeerAS):
		d.Errorf(nb, "bgp neighbor %s: peer_as must be set", a)
	case reservedAS(nb.PeerAS):
		d.Errorf(&nb.PeerAS, "bgp neighbor %s: peer_as %d is reserved", a, nb.PeerAS)
	}
	if nb.Port == 0 {
		d.Errorf(&nb.Port, "bgp neighbor %s: port 0 out of range 1..65535", a)
	}
	// BGP carries timers in whole seconds.
	for _, t := range []struct {
		key string
		v   *model.Duration
	}{{"hold_time", &nb.HoldTime}, {"keepalive", &nb.Keepalive}, {"connect_retry", &nb.ConnectRetry}} {
		if *t.v <= 0 || time.Duration(*t.v)%time.Second != 0 {
			d.Errorf(t.v, "bgp neighbor %s: %s %s is not a positive whole number of seconds (e.g. 9s)", a, t.key, *t.v)
			return
		}
	}
	switch {
	case time.Duration(nb.HoldTime) < 3*time.Second:
		// RFC 4271 4.2: zero (no keepalives, a hung speaker is never
		// noticed) or at least 3 seconds; we refuse zero.
		d.Errorf(&nb.HoldTime, "bgp neighbor %s: hold_time must be at least 3s", a)
	case nb.Keepalive >= nb.HoldTime:
		d.Errorf(&nb.Keepalive, "bgp neighbor %s: keepalive %s must be less than hold_time %s", a, nb.Keepalive, nb.HoldTime)
	}
	if nb.PasswordFile != "" {
		if _, err := readPassword(nb.PasswordFile); err != nil {
			d.Errorf(&nb.PasswordFile, "%v", err)
		}
		d.WarnOpenSecret(&nb.PasswordFile, "bgp password_file")
	}
}
