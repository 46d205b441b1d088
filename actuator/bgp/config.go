package bgp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
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

// UnmarshalYAML validates the section, naming the offending line.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		LocalAS      *uint32    `yaml:"local_as"`
		RouterID     string     `yaml:"router_id"`
		LocalAddress string     `yaml:"local_address"`
		Neighbors    []Neighbor `yaml:"neighbors"`
	}
	if err := unknownKeys(n, "backend.bgp", "local_as", "router_id", "local_address", "neighbors"); err != nil {
		return err
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*c = Config{Neighbors: raw.Neighbors}
	switch {
	case raw.LocalAS == nil:
		return lineErr(n.Line, "bgp local_as must be set")
	case *raw.LocalAS == 0 || *raw.LocalAS == 65535 || *raw.LocalAS == 4294967295:
		return lineErr(valueLine(n, "local_as"), "bgp local_as %d is reserved", *raw.LocalAS)
	}
	c.LocalAS = *raw.LocalAS
	a, err := netip.ParseAddr(raw.RouterID)
	if raw.RouterID == "" {
		return lineErr(n.Line, "bgp router_id must be set")
	}
	if err != nil || !a.Is4() {
		return lineErr(valueLine(n, "router_id"), "bgp router_id %q is not an IPv4 address", raw.RouterID)
	}
	c.RouterID = a
	if raw.LocalAddress != "" {
		a, err := netip.ParseAddr(raw.LocalAddress)
		if err != nil || a.Zone() != "" {
			return lineErr(valueLine(n, "local_address"), "bgp local_address %q is not an IP address", raw.LocalAddress)
		}
		c.LocalAddress = a
	}
	if len(c.Neighbors) == 0 {
		return lineErr(valueLine(n, "neighbors"), "bgp needs at least one neighbor")
	}
	nbs := keyNode(n, "neighbors")
	for i, nb := range c.Neighbors {
		line := nbs.Content[i].Line
		if c.LocalAddress.IsValid() && c.LocalAddress.Is4() != nb.Address.Is4() {
			return lineErr(line, "bgp neighbor %s is not of local_address %s's address family", nb.Address, c.LocalAddress)
		}
		for _, prev := range c.Neighbors[:i] {
			if prev.Address == nb.Address {
				return lineErr(line, "bgp neighbor %s is listed twice", nb.Address)
			}
		}
	}
	return nil
}

// UnmarshalYAML applies defaults and validates one neighbor.
func (nb *Neighbor) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Address      string  `yaml:"address"`
		PeerAS       *uint32 `yaml:"peer_as"`
		Port         *int    `yaml:"port"`
		HoldTime     string  `yaml:"hold_time"`
		Keepalive    string  `yaml:"keepalive"`
		ConnectRetry string  `yaml:"connect_retry"`
		PasswordFile string  `yaml:"password_file"`
	}
	if err := unknownKeys(n, "bgp neighbor", "address", "peer_as", "port", "hold_time", "keepalive", "connect_retry", "password_file"); err != nil {
		return err
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*nb = DefaultNeighbor
	nb.PasswordFile = raw.PasswordFile
	a, err := netip.ParseAddr(raw.Address)
	switch {
	case raw.Address == "":
		return lineErr(n.Line, "bgp neighbor address must be set")
	case err != nil || a.Zone() != "":
		return lineErr(valueLine(n, "address"), "bgp neighbor address %q is not an IP address", raw.Address)
	case raw.PeerAS == nil:
		return lineErr(n.Line, "bgp neighbor %s: peer_as must be set", a)
	case *raw.PeerAS == 0 || *raw.PeerAS == 65535 || *raw.PeerAS == 4294967295:
		return lineErr(valueLine(n, "peer_as"), "bgp neighbor %s: peer_as %d is reserved", a, *raw.PeerAS)
	}
	nb.Address, nb.PeerAS = a, *raw.PeerAS
	if raw.Port != nil {
		if *raw.Port < 1 || *raw.Port > 65535 {
			return lineErr(valueLine(n, "port"), "bgp neighbor %s: port %d out of range 1..65535", a, *raw.Port)
		}
		nb.Port = uint16(*raw.Port)
	}
	// BGP carries timers in whole seconds.
	for _, d := range []struct {
		key string
		raw string
		dst *model.Duration
	}{{"hold_time", raw.HoldTime, &nb.HoldTime}, {"keepalive", raw.Keepalive, &nb.Keepalive}, {"connect_retry", raw.ConnectRetry, &nb.ConnectRetry}} {
		if d.raw == "" {
			continue
		}
		v, err := model.ParseDuration(d.raw)
		if err != nil || time.Duration(v)%time.Second != 0 || v <= 0 {
			return lineErr(valueLine(n, d.key), "bgp neighbor %s: %s %q is not a positive whole number of seconds (e.g. 9s)", a, d.key, d.raw)
		}
		*d.dst = v
	}
	switch {
	case time.Duration(nb.HoldTime) < 3*time.Second:
		// RFC 4271 4.2: zero (no keepalives, a hung speaker is never
		// noticed) or at least 3 seconds; we refuse zero.
		return lineErr(valueLine(n, "hold_time"), "bgp neighbor %s: hold_time must be at least 3s", a)
	case nb.Keepalive >= nb.HoldTime:
		return lineErr(valueLine(n, "keepalive"), "bgp neighbor %s: keepalive %s must be less than hold_time %s", a, nb.Keepalive, nb.HoldTime)
	}
	return nil
}

// unknownKeys rejects keys of mapping n not in known: yaml.Node.Decode,
// which custom unmarshalers use, is never strict.
func unknownKeys(n *yaml.Node, section string, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return lineErr(n.Line, "%s must be a mapping", section)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			return lineErr(k.Line, "unknown field %q in %s (known: %s)", k.Value, section, strings.Join(known, ", "))
		}
	}
	return nil
}

func keyNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func valueLine(n *yaml.Node, key string) int {
	if v := keyNode(n, key); v != nil {
		return v.Line
	}
	return n.Line
}

func lineErr(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}
