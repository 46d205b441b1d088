package alertstate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func fire(fp string, starts time.Time) Event {
	return Event{Fingerprint: fp, Labels: map[string]string{"alertname": "DNSServerDown"}, Status: Firing, StartsAt: starts}
}

func resolve(fp string, starts, ends time.Time) Event {
	e := fire(fp, starts)
	e.Status, e.EndsAt = Resolved, ends
	return e
}

func TestApplyOrdering(t *testing.T) {
	s1, s2 := t0, t0.Add(time.Minute)
	for _, tc := range []struct {
		name     string
		events   []Event
		outcomes []Outcome
		want     Status
	}{
		{"fire", []Event{fire("a", s1)}, []Outcome{Accepted}, Firing},
		{"fire then resolve", []Event{fire("a", s1), resolve("a", s1, s1.Add(10*time.Second))}, []Outcome{Accepted, Accepted}, Resolved},
		{"duplicates (HA peers)", []Event{fire("a", s1), fire("a", s1), resolve("a", s1, s1.Add(time.Second)), resolve("a", s1, s1.Add(time.Second))},
			[]Outcome{Accepted, Duplicate, Accepted, Duplicate}, Resolved},
		{"stale firing after resolve is dropped", []Event{fire("a", s1), resolve("a", s1, s1.Add(10*time.Second)), fire("a", s1)},
			[]Outcome{Accepted, Accepted, Stale}, Resolved},
		{"reordered: resolve before its firing", []Event{resolve("a", s1, s1.Add(10*time.Second)), fire("a", s1)},
			[]Outcome{Accepted, Stale}, Resolved},
		{"stale resolve of an old episode while firing again", []Event{fire("a", s2), resolve("a", s1, s1.Add(10*time.Second))},
			[]Outcome{Accepted, Stale}, Firing},
		{"new episode after resolve", []Event{fire("a", s1), resolve("a", s1, s1.Add(10*time.Second)), fire("a", s2)},
			[]Outcome{Accepted, Accepted, Accepted}, Firing},
		{"resolved at the instant it started", []Event{resolve("a", s1, s1), fire("a", s1)}, []Outcome{Accepted, Stale}, Resolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(time.Hour)
			for i, e := range tc.events {
				// Received after every event time, as without clock skew.
				if got := s.Apply(e, t0.Add(time.Hour+time.Duration(i)*time.Second)); got != tc.outcomes[i] {
					t.Errorf("event %d: outcome %v, want %v", i, got, tc.outcomes[i])
				}
			}
			snap, _ := s.Snapshot()
			if len(snap) != 1 || snap[0].Status != tc.want {
				t.Errorf("state = %+v, want one alert %s", snap, tc.want)
			}
		})
	}
}

// Every permutation of one episode's events converges to the same state.
func TestApplyConverges(t *testing.T) {
	events := []Event{fire("a", t0), fire("a", t0), resolve("a", t0, t0.Add(5*time.Second)), fire("b", t0), resolve("b", t0, t0.Add(time.Second)), fire("b", t0.Add(time.Minute))}
	var permute func([]Event, int)
	want := map[string]Status{"a": Resolved, "b": Firing}
	permute = func(ev []Event, k int) {
		if k == len(ev) {
			s := New(time.Hour)
			for _, e := range ev {
				s.Apply(e, t0.Add(time.Hour))
			}
			snap, _ := s.Snapshot()
			for _, a := range snap {
				if a.Status != want[a.Fingerprint] {
					t.Fatalf("order %v: %s is %s, want %s", ev, a.Fingerprint, a.Status, want[a.Fingerprint])
				}
			}
			return
		}
		for i := k; i < len(ev); i++ {
			ev[k], ev[i] = ev[i], ev[k]
			permute(ev, k+1)
			ev[k], ev[i] = ev[i], ev[k]
		}
	}
	permute(events, 0)
}

func TestLastSeen(t *testing.T) {
	s := New(time.Hour)
	s.Apply(fire("hb", t0), t0)
	v := s.Version()
	s.Apply(fire("hb", t0), t0.Add(100*time.Millisecond)) // an HA peer's copy
	if s.Version() != v {
		t.Error("a duplicate within the freshness resolution changed the version (forces a reconcile)")
	}
	s.Apply(fire("hb", t0), t0.Add(30*time.Second)) // a repeat notification
	if s.Version() == v {
		t.Error("a repeat 30 s later did not change the version: freshness would not be re-evaluated")
	}
	snap, _ := s.Snapshot()
	if !snap[0].LastSeen.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("LastSeen = %v, want the repeat's receipt time", snap[0].LastSeen)
	}
}

func TestSync(t *testing.T) {
	s := New(time.Hour)
	s.Apply(fire("gone", t0), t0)
	s.Apply(fire("kept", t0), t0)
	s.Apply(fire("late", t0), t0.Add(20*time.Second)) // webhook newer than the API answer
	api := []Event{{Fingerprint: "kept", Labels: map[string]string{"alertname": "DNSServerDown"}, StartsAt: t0, UpdatedAt: t0.Add(9 * time.Second)},
		{Fingerprint: "new", Labels: map[string]string{"alertname": "DNSServerDown"}, StartsAt: t0, UpdatedAt: t0.Add(8 * time.Second)}}
	s.Sync(api, t0.Add(10*time.Second), t0.Add(11*time.Second))
	snap, _ := s.Snapshot()
	got := map[string]Alert{}
	for _, a := range snap {
		got[a.Fingerprint] = a
	}
	for fp, want := range map[string]Status{"gone": Resolved, "kept": Firing, "late": Firing, "new": Firing} {
		if got[fp].Status != want {
			t.Errorf("%s: %s, want %s", fp, got[fp].Status, want)
		}
	}
	if !got["new"].LastSeen.Equal(t0.Add(8 * time.Second)) {
		t.Errorf("new LastSeen = %v, want the API's updatedAt", got["new"].LastSeen)
	}
	if !got["gone"].Inferred || !got["gone"].EndsAt.Equal(t0.Add(10*time.Second)) {
		t.Errorf("gone = %+v, want resolved at the fetch time, inferred", got["gone"])
	}
	s.GC(t0.Add(2 * time.Hour))
	if snap, _ := s.Snapshot(); len(snap) != 3 {
		t.Errorf("after GC %d alerts, want the 3 firing ones", len(snap))
	}
}

func TestAPIClient(t *testing.T) {
	now := time.Now().UTC()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]map[string]any{
			{"labels": map[string]string{"alertname": "DNSSLAWatchdog"}, "startsAt": now.Add(-time.Hour), "endsAt": now.Add(time.Minute),
				"updatedAt": now.Add(-10 * time.Second), "fingerprint": "1234", "status": map[string]any{"state": "active"}},
			{"labels": map[string]string{"alertname": "DNSServerDown"}, "startsAt": now.Add(-time.Hour), "endsAt": now.Add(-time.Second),
				"updatedAt": now.Add(-time.Minute), "fingerprint": "5678", "status": map[string]any{"state": "active"}},
		})
	}))
	defer srv.Close()
	c, err := NewAPIClient(srv.URL+"/", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Alerts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Fingerprint != "1234" || got[0].Status != Firing || !got[0].UpdatedAt.Equal(now.Add(-10*time.Second)) {
		t.Errorf("alerts = %+v, want only the unexpired heartbeat", got)
	}
	bad, _ := NewAPIClient(srv.URL+"/nope", time.Second)
	if _, err := bad.Alerts(t.Context()); err == nil {
		t.Error("404 from the API: no error")
	}
}

// A resolve inferred from absence in the API does not outrank a firing
// event received later (a restarted Alertmanager re-notifies the same
// instance with its old startsAt), while a notified resolve keeps dropping
// stale firings (HA peers send them 12-15 s after a recovery).
func TestInferredResolve(t *testing.T) {
	s1 := t0
	type step struct {
		apply *Event  // a webhook event
		sync  []Event // else an API read listing these
		want  Outcome // for apply steps
	}
	webhook := func(e Event, want Outcome) step { return step{apply: &e, want: want} }
	apiRead := func(active ...Event) step { return step{sync: active} }
	for _, tc := range []struct {
		name     string
		steps    []step
		want     Status
		inferred bool
	}{
		{"firing after an inferred resolve wins (Alertmanager restarted)",
			[]step{webhook(fire("a", s1), Accepted), apiRead(), webhook(fire("a", s1), Accepted)}, Firing, false},
		{"its HA duplicate is a duplicate",
			[]step{webhook(fire("a", s1), Accepted), apiRead(), webhook(fire("a", s1), Accepted), webhook(fire("a", s1), Duplicate)}, Firing, false},
		{"firing of an older episode stays stale",
			[]step{webhook(fire("a", s1.Add(time.Minute)), Accepted), apiRead(), webhook(fire("a", s1), Stale)}, Resolved, true},
		{"stale firing after a notified resolve is dropped",
			[]step{webhook(fire("a", s1), Accepted), webhook(resolve("a", s1, s1.Add(10*time.Second)), Accepted), apiRead(), webhook(fire("a", s1), Stale)}, Resolved, false},
		{"a notified resolve replaces an inferred one, then stale firings are dropped",
			[]step{webhook(fire("a", s1), Accepted), apiRead(), webhook(resolve("a", s1, s1.Add(time.Second)), Duplicate), webhook(fire("a", s1), Stale)}, Resolved, false},
		{"a notified resolve of an older episode does not replace it",
			[]step{webhook(fire("a", s1.Add(time.Minute)), Accepted), apiRead(), webhook(resolve("a", s1, s1.Add(time.Second)), Stale)}, Resolved, true},
		{"the API listing it again makes it firing",
			[]step{webhook(fire("a", s1), Accepted), apiRead(), apiRead(fire("a", s1))}, Firing, false},
		{"an accepted firing is resolved again by a later read without it",
			[]step{webhook(fire("a", s1), Accepted), apiRead(), webhook(fire("a", s1), Accepted), apiRead()}, Resolved, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(time.Hour)
			for i, st := range tc.steps {
				now := t0.Add(time.Duration(i+1) * time.Minute)
				if st.apply != nil {
					if got := s.Apply(*st.apply, now); got != st.want {
						t.Errorf("step %d: outcome %v, want %v", i, got, st.want)
					}
					continue
				}
				s.Sync(st.sync, now, now)
			}
			snap, _ := s.Snapshot()
			if len(snap) != 1 || snap[0].Status != tc.want || snap[0].Inferred != tc.inferred {
				t.Errorf("state = %+v, want one alert %s, inferred %v", snap, tc.want, tc.inferred)
			}
		})
	}
}

// Clock skew cannot wedge an alert firing: a time after receipt is taken as
// the receipt time, so a resolve received later orders after the firing.
func TestClockSkew(t *testing.T) {
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	recv := t0.Add(time.Hour)
	for _, tc := range []struct {
		name     string
		events   []Event
		outcomes []Outcome
		want     Status
	}{
		{"firing in 2099, then its resolve", []Event{fire("a", y2099), resolve("a", y2099, t0.Add(time.Hour+time.Second))},
			[]Outcome{Accepted, Accepted}, Resolved},
		{"firing in 2099, then a resolve also in 2099", []Event{fire("a", y2099), resolve("a", y2099, y2099.Add(time.Hour))},
			[]Outcome{Accepted, Accepted}, Resolved},
		{"firing a minute ahead, resolved before that minute is over", []Event{fire("a", recv.Add(time.Minute)), resolve("a", recv.Add(time.Minute), recv.Add(time.Second))},
			[]Outcome{Accepted, Accepted}, Resolved},
		{"far past firing, then its resolve", []Event{fire("a", time.Unix(0, 0)), resolve("a", time.Unix(0, 0), t0)},
			[]Outcome{Accepted, Accepted}, Resolved},
		{"resolve in 2099 does not hide a later episode", []Event{resolve("a", t0, y2099), fire("a", t0.Add(time.Hour+2*time.Second))},
			[]Outcome{Accepted, Accepted}, Firing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(time.Hour)
			for i, e := range tc.events {
				if got := s.Apply(e, recv.Add(time.Duration(i)*time.Second)); got != tc.outcomes[i] {
					t.Errorf("event %d: outcome %v, want %v", i, got, tc.outcomes[i])
				}
			}
			snap, _ := s.Snapshot()
			if len(snap) != 1 || snap[0].Status != tc.want {
				t.Errorf("state = %+v, want one alert %s", snap, tc.want)
			}
		})
	}
	// The same through the API: a 2099 startsAt listed is clamped too.
	s := New(time.Hour)
	s.Sync([]Event{fire("a", y2099)}, recv, recv)
	if got := s.Apply(resolve("a", y2099, recv.Add(time.Second)), recv.Add(time.Second)); got != Accepted {
		t.Errorf("resolve after an API read of a 2099 firing: %v, want Accepted", got)
	}
}

// The store keeps only admitted alerts and at most MaxPerKey per key, so a
// flood of fingerprints costs nothing beyond the cap.
func TestBounded(t *testing.T) {
	s := New(time.Hour)
	admit := func(l map[string]string) (string, bool) { return l["nexthop"], l["nexthop"] == "198.51.100.11" }
	s.SetAdmit(admit)
	ev := func(i int, nh string) Event {
		e := fire(fmt.Sprintf("%016x", i), t0)
		e.Labels = map[string]string{"alertname": "DNSServerDown", "nexthop": nh, "instance": fmt.Sprint(i)}
		e.Key = nh
		return e
	}
	full := 0
	for i := range 1000 {
		if s.Apply(ev(i, "198.51.100.11"), t0.Add(time.Hour)) == Full {
			full++
		}
	}
	if s.Len() != MaxPerKey || full != 1000-MaxPerKey {
		t.Errorf("after 1000 firing fingerprints of one key: %d held, %d Full; want %d held", s.Len(), full, MaxPerKey)
	}
	// A resolved alert makes room for a new one.
	first := ev(0, "198.51.100.11")
	r := first
	r.Status, r.EndsAt = Resolved, t0.Add(time.Minute)
	if got := s.Apply(r, t0.Add(time.Hour)); got != Accepted {
		t.Fatalf("resolve: %v", got)
	}
	if got := s.Apply(ev(5000, "198.51.100.11"), t0.Add(time.Hour)); got != Accepted || s.Len() != MaxPerKey {
		t.Errorf("new fingerprint with a resolved one to evict: %v, %d held", got, s.Len())
	}
	// The API's answer is admitted the same way.
	var api []Event
	for i := range 1000 {
		api = append(api, ev(10000+i, "198.51.100.99"))
	}
	s.Sync(api, t0.Add(2*time.Hour), t0.Add(2*time.Hour))
	if s.Len() > MaxPerKey {
		t.Errorf("after an API read of 1000 unadmitted alerts: %d held", s.Len())
	}
	// A new admission drops what it no longer admits.
	s.SetAdmit(func(map[string]string) (string, bool) { return "", false })
	if s.Len() != 0 {
		t.Errorf("after admitting nothing: %d held", s.Len())
	}
}

// Apply keeps a copy of the labels it stores: the webhook reuses its maps.
func TestApplyCopiesLabels(t *testing.T) {
	s := New(time.Hour)
	now := t0.Add(time.Hour)
	check := func(step string) {
		t.Helper()
		snap, _ := s.Snapshot()
		if len(snap) != 1 || snap[0].Labels["alertname"] != "DNSServerDown" {
			t.Errorf("%s: stored %+v, want the labels as applied", step, snap)
		}
	}
	for i, e := range []Event{fire("a", t0), resolve("a", t0, t0.Add(time.Second)), fire("a", t0.Add(time.Minute))} {
		if got := s.Apply(e, now); got != Accepted {
			t.Fatalf("event %d: %v", i, got)
		}
		clear(e.Labels)
		check(fmt.Sprint("event ", i))
	}
	// After an inferred resolve (the alert missing from an API read).
	s.Sync(nil, now.Add(time.Second), now.Add(time.Second))
	e := resolve("a", t0.Add(time.Minute), now.Add(2*time.Second))
	if got := s.Apply(e, now.Add(3*time.Second)); got != Duplicate {
		t.Fatalf("notified resolve after inferred: %v", got)
	}
	clear(e.Labels)
	check("notified resolve after inferred")
}
