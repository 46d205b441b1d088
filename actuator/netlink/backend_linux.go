//go:build linux

package netlink

import (
	"errors"
	"log/slog"

	"github.com/slaroute/slaroute/actuator/route"
)

// New returns the Linux backend. STUB: being implemented (issue 3).
func New(cfg Config, logger *slog.Logger) (route.Backend, error) {
	return nil, errors.New("netlink backend: not implemented yet")
}
