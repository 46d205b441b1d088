//go:build !linux

package netlink

import (
	"log/slog"
	"net/netip"

	"github.com/slaroute/slaroute/actuator/route"
)

// New reports that the netlink backend exists only on Linux.
func New(cfg Config, places map[netip.Prefix]route.Placement, logger *slog.Logger) (route.Backend, error) {
	return nil, route.ErrUnsupported
}
