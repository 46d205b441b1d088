package actuator

import (
	"maps"
	"sync"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/config"
	"github.com/slaroute/slaroute/actuator/policy"
)

// classifier memoises policy.Classify per fingerprint for one configuration:
// Alertmanager repeats the same alerts in every notification, and parsing
// their labels again was a tenth of a webhook's CPU time at 2,000 webhooks/s.
// An entry counts only for the very label set it was computed from.
type classifier struct {
	mu  sync.Mutex
	cfg *config.Config
	m   map[string]classified
}

type classified struct {
	labels map[string]string
	kind   policy.Kind
	reason string
}

// classifierMax bounds the memo; it starts afresh when full.
const classifierMax = 10000

// classify returns policy.Classify of every event under cfg.
func (c *classifier) classify(cfg *config.Config, events []alertstate.Event) []classified {
	out := make([]classified, len(events))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != cfg || len(c.m) > classifierMax {
		c.cfg, c.m = cfg, make(map[string]classified)
	}
	for i, e := range events {
		if got, ok := c.m[e.Fingerprint]; ok && maps.Equal(got.labels, e.Labels) {
			out[i] = got
			continue
		}
		kind, reason := policy.Classify(cfg.Routes, cfg.Alerts, e.Labels)
		out[i] = classified{labels: e.Labels, kind: kind, reason: reason}
		c.m[e.Fingerprint] = out[i]
	}
	return out
}
