package ios

import (
	"context"
	"net/netip"

	"errors"
	"github.com/slaroute/slaroute/actuator/route"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the IOS backend's metrics, registered once per process so that
// a reload can replace the backend without re-registering them.
type Metrics struct{}

// NewMetrics registers the IOS backend metrics on reg. STUB (issue 4).
func NewMetrics(reg prometheus.Registerer) *Metrics { return &Metrics{} }

// Backend drives one IOS router over SSH. STUB (issue 4).
type Backend struct{}

// New reads the secret files and prepares the session. STUB (issue 4).
func New(cfg Config, m *Metrics, logger *slog.Logger) (*Backend, error) {
	return nil, errors.New("ios backend: not implemented yet")
}

var _ route.Backend = (*Backend)(nil)

// List is a STUB (issue 4).
func (b *Backend) List(ctx context.Context, managed []netip.Prefix) ([]route.Route, error) {
	return nil, errors.New("ios backend: not implemented yet")
}

// Apply is a STUB (issue 4).
func (b *Backend) Apply(ctx context.Context, c route.Change) error {
	return errors.New("ios backend: not implemented yet")
}

// Close is a STUB (issue 4).
func (b *Backend) Close() error { return nil }
