// Package alertstate keeps the newest event per alert fingerprint, fed by
// Alertmanager webhooks and by its API. Alertmanager retries, duplicates (HA
// pairs) and reorders notifications; ordering events by their own timestamps
// (startsAt for firing, endsAt for resolved) makes any delivery order converge.
// A resolve inferred from an alert's absence in the API is weaker: a firing
// event received after it wins (see Alert.Inferred).
//
// Clock skew: an event time after the event's receipt is taken as the receipt
// time (see clamp). A Prometheus or Alertmanager clock ahead of ours, or a
// forged startsAt in 2099, therefore cannot make every later resolve look
// stale: a resolve received after a firing always orders after it unless its
// own time is older. Times in the past order as they are (older is stale).
//
// The store is bounded by the configuration, not by its input: it holds only
// events the caller admits (Event.Key set), and at most MaxPerKey
// fingerprints per key; keys name configured targets (alertname x route x
// nexthop), so their number is fixed by the configuration.
package alertstate

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Status of one alert.
type Status string

const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Event is one observation of one alert.
type Event struct {
	Fingerprint string
	Labels      map[string]string
	Status      Status
	StartsAt    time.Time
	EndsAt      time.Time
	// UpdatedAt is when Alertmanager last heard of the alert from Prometheus
	// (API only); zero for webhook events.
	UpdatedAt time.Time
	// Key names the configured target the alert acts on (see Admit).
	Key string
}

// Admit says whether an alert's labels can affect a configured route and
// under which key; ok false means the store must not keep it.
type Admit func(labels map[string]string) (key string, ok bool)

// MaxPerKey bounds the fingerprints held for one target. Alertmanager sends
// one alert per label set; a handful per nexthop is normal (e.g. one per
// probe protocol), thousands is a flood.
const MaxPerKey = 32

// clamp takes a time after receipt as the receipt time (clock skew).
func clamp(t, received time.Time) time.Time {
	if t.After(received) {
		return received
	}
	return t
}

// Time is the event's own timestamp used for ordering.
func (e Event) Time() time.Time {
	if e.Status == Resolved {
		return e.EndsAt
	}
	return e.StartsAt
}

// Alert is the stored state of one fingerprint.
type Alert struct {
	Event
	// LastSeen is when the alert was last confirmed firing: the receipt time
	// of a firing webhook or the API's updatedAt, whichever is newer.
	LastSeen time.Time
	// Changed is when the store last accepted an event for it.
	Changed time.Time
	// Inferred marks a resolve inferred from the alert's absence in an API
	// read, not notified. Absence is weaker evidence than a notification: a
	// restarted Alertmanager lists nothing until Prometheus re-sends, and then
	// notifies the same instance with its old startsAt. So a firing event
	// received after an inferred resolve wins over it, and a notified resolve
	// replaces it (from then on stale firings are dropped again).
	Inferred bool
}

// freshnessResolution is the smallest LastSeen advance that counts as a change.
const freshnessResolution = time.Second

// Store is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	alerts  map[string]*Alert
	byKey   map[string]map[string]*Alert
	admit   Admit
	version uint64
	// retain keeps resolved alerts this long so a stale firing for them is still recognised.
	retain time.Duration
}

// New returns an empty store that forgets resolved alerts after retain.
func New(retain time.Duration) *Store {
	return &Store{alerts: map[string]*Alert{}, byKey: map[string]map[string]*Alert{}, retain: retain}
}

// SetAdmit sets what Sync keeps of an API answer and drops stored alerts it
// no longer admits (a reloaded configuration); nil admits everything under
// one key per alertname.
func (s *Store) SetAdmit(f Admit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admit = f
	for fp, a := range s.alerts {
		key, ok := s.keyOf(a.Labels)
		if !ok {
			s.remove(fp)
			s.version++
		} else if key != a.Key {
			s.remove(fp)
			a.Key = key
			s.insert(a)
		}
	}
}

func (s *Store) keyOf(labels map[string]string) (string, bool) {
	if s.admit == nil {
		return labels["alertname"], true
	}
	return s.admit(labels)
}

// Len is the number of alerts held.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.alerts)
}

func (s *Store) insert(a *Alert) {
	s.alerts[a.Fingerprint] = a
	if s.byKey[a.Key] == nil {
		s.byKey[a.Key] = map[string]*Alert{}
	}
	s.byKey[a.Key][a.Fingerprint] = a
}

func (s *Store) remove(fp string) {
	a, ok := s.alerts[fp]
	if !ok {
		return
	}
	delete(s.alerts, fp)
	delete(s.byKey[a.Key], fp)
	if len(s.byKey[a.Key]) == 0 {
		delete(s.byKey, a.Key)
	}
}

// room makes room for one more fingerprint under key: at the cap it forgets
// the resolved alert changed longest ago; with none resolved there is no room.
func (s *Store) room(key string) bool {
	m := s.byKey[key]
	if len(m) < MaxPerKey {
		return true
	}
	var oldest *Alert
	for _, a := range m {
		if a.Status == Resolved && (oldest == nil || a.Changed.Before(oldest.Changed)) {
			oldest = a
		}
	}
	if oldest == nil {
		return false
	}
	s.remove(oldest.Fingerprint)
	return true
}

// Outcome of one Apply.
type Outcome int

const (
	Accepted  Outcome = iota // the event changed or refreshed the state
	Duplicate                // same event again (e.g. a repeat or the HA peer's copy)
	Stale                    // older than what is stored: dropped
	Full                     // a new fingerprint for a key holding MaxPerKey firing alerts: dropped
)

// Apply records e received at now unless an event newer than e is stored.
// It keeps a copy of e.Labels: the caller may reuse the map (the webhook
// decodes into the same maps request after request).
func (s *Store) Apply(e Event, now time.Time) Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.StartsAt, e.EndsAt = clamp(e.StartsAt, now), clamp(e.EndsAt, now)
	cur, ok := s.alerts[e.Fingerprint]
	if ok && cur.Key != e.Key {
		// Same fingerprint, other key: only after a label change that
		// Alertmanager's fingerprint would not allow; start afresh.
		s.remove(e.Fingerprint)
		ok = false
	}
	outcome := Accepted
	switch {
	case !ok:
		if !s.room(e.Key) {
			return Full
		}
		cur = &Alert{Event: e}
		s.insert(cur)
	case cur.Status == Resolved && cur.Inferred:
		// Only an event of an older episode is stale.
		if e.Status == Firing && e.StartsAt.Before(cur.StartsAt) ||
			e.Status == Resolved && e.EndsAt.Before(cur.StartsAt) {
			return Stale
		}
		if e.Status == Resolved {
			// Still resolved, now by notification: policy sees no change.
			outcome = Duplicate
		}
	default:
		t, ct := e.Time(), cur.Time()
		switch {
		case t.Before(ct):
			return Stale
		case t.Equal(ct) && e.Status == cur.Status:
			if e.Status == Firing {
				seen := latest(cur.LastSeen, now, e.UpdatedAt)
				// A refresh matters to policy (heartbeat freshness) only at the scale
				// of heartbeat_timeout; not bumping the version for every repeat lets
				// repeated notifications return without a reconcile.
				if seen.Sub(cur.LastSeen) >= freshnessResolution {
					s.version++
				}
				cur.LastSeen = seen
			}
			return Duplicate
		case t.Equal(ct) && e.Status == Firing:
			// Resolved at the instant it started: the resolve wins.
			return Stale
		}
	}
	e.Labels = maps.Clone(e.Labels)
	cur.Event, cur.Changed, cur.Inferred = e, now, false
	if e.Status == Firing {
		cur.LastSeen = latest(cur.LastSeen, now, e.UpdatedAt)
	}
	if outcome == Accepted {
		s.version++
	}
	return outcome
}

// Sync makes the store match the active alerts read from the Alertmanager API
// at fetched: the API is the source of truth. Alerts changed by a webhook
// after fetched are newer than the API answer and are kept as they are.
// Firing alerts missing from the answer are resolved at fetched, marked
// Inferred.
func (s *Store) Sync(active []Event, fetched, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := make(map[string]bool, len(active))
	for _, e := range active {
		key, admitted := s.keyOf(e.Labels)
		if !admitted {
			continue
		}
		e.Key = key
		e.StartsAt = clamp(e.StartsAt, fetched)
		in[e.Fingerprint] = true
		cur, ok := s.alerts[e.Fingerprint]
		if ok && cur.Changed.After(fetched) {
			continue
		}
		e.Status = Firing
		if !ok || cur.Status != Firing || !cur.StartsAt.Equal(e.StartsAt) || cur.Key != key {
			s.remove(e.Fingerprint)
			if !s.room(key) {
				continue
			}
			s.insert(&Alert{Event: e, Changed: now, LastSeen: e.UpdatedAt})
		} else {
			cur.Labels = e.Labels
			cur.UpdatedAt = e.UpdatedAt
			cur.LastSeen = latest(cur.LastSeen, e.UpdatedAt)
		}
		s.version++
	}
	for fp, a := range s.alerts {
		if in[fp] || a.Status != Firing || a.Changed.After(fetched) {
			continue
		}
		a.Status, a.EndsAt, a.Changed, a.Inferred = Resolved, fetched, now, true
		s.version++
	}
	s.gc(now)
}

// GC forgets resolved alerts older than the retention.
func (s *Store) GC(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(now)
}

func (s *Store) gc(now time.Time) {
	for fp, a := range s.alerts {
		if a.Status == Resolved && now.Sub(a.Changed) > s.retain {
			s.remove(fp)
		}
	}
}

// Snapshot returns copies of every stored alert, ordered by fingerprint, and
// the store version. Label maps are shared: the store replaces them, never
// modifies them, and callers must not modify them either.
func (s *Store) Snapshot() ([]Alert, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, 0, len(s.alerts))
	for _, fp := range slices.Sorted(maps.Keys(s.alerts)) {
		out = append(out, *s.alerts[fp])
	}
	return out, s.version
}

// Version increases whenever the state changes.
func (s *Store) Version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// latest is the newest of ts, the first of equal ones.
func latest(ts ...time.Time) time.Time { return slices.MaxFunc(ts, time.Time.Compare) }
