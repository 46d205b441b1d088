package bgp

import (
	"strings"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the BGP backend's collectors, registered once and shared by
// the backends a reload builds.
type Metrics struct {
	state   *prometheus.GaugeVec
	addPath *prometheus.GaugeVec
}

// sessionStates are the BGP FSM states (RFC 4271 8.2.2), lower case.
var sessionStates = []api.PeerState_SessionState{
	api.PeerState_IDLE, api.PeerState_CONNECT, api.PeerState_ACTIVE,
	api.PeerState_OPENSENT, api.PeerState_OPENCONFIRM, api.PeerState_ESTABLISHED,
}

// NewMetrics registers the BGP metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		state: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "route_actuator_bgp_session_state",
			Help: "BGP session state per neighbor: 1 for the current state (idle, connect, active, opensent, openconfirm, established), 0 for the others.",
		}, []string{"neighbor", "state"}),
		addPath: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "route_actuator_bgp_add_path_receive",
			Help: "1 if the neighbor's established session negotiated ADD-PATH receive for the family (ipv4, ipv6), else 0: without it the router keeps one path per prefix, no ECMP.",
		}, []string{"neighbor", "family"}),
	}
}

func (m *Metrics) setState(neighbor string, s api.PeerState_SessionState) {
	for _, st := range sessionStates {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(neighbor, strings.ToLower(st.String())).Set(v)
	}
}
