//go:build e2e && linux

package lab

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// checkDashboards runs every dashboard panel query, variables substituted,
// against the lab Prometheus and requires data from each.
func checkDashboards(t *testing.T, e *Env) {
	qs, err := DashboardQueries(e.Stack.cfg.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 {
		t.Fatal("no panel queries found in dashboards/*.json")
	}
	// Rate panels read the 15 s dns_sla job: after the scenarios restart the
	// exporter and Prometheus they have data once two scrapes fall in their
	// window, so a query without data is asked again until then.
	deadline := time.Now().Add(45 * time.Second)
	pending := qs
	for {
		var empty []PanelQuery
		for _, q := range pending {
			res, err := e.Query(Substitute(q.Expr, LabVars))
			switch {
			case err != nil:
				t.Errorf("%s / %q (%s): %v", q.Dashboard, q.Panel, q.RefID, err)
			case len(res) == 0:
				empty = append(empty, q)
			}
		}
		if len(empty) == 0 || time.Now().After(deadline) {
			for _, q := range empty {
				t.Errorf("%s / %q (%s): no data for %s", q.Dashboard, q.Panel, q.RefID, Substitute(q.Expr, LabVars))
			}
			t.Logf("%d panel queries, %d without data", len(qs), len(empty))
			return
		}
		pending = empty
		time.Sleep(time.Second)
	}
}

// checkChangeAnnotation runs the route_actuator dashboard's cause annotation
// as Grafana does (a range query over the last 10 minutes, step and
// $__interval 2s) and requires events carrying change, cause, nexthop and
// route: at least the startup's, and an alert withdraw and restore when
// failover scenarios ran before.
func checkChangeAnnotation(t *testing.T, e *Env, wantAlert bool) {
	as, err := DashboardAnnotations(e.Stack.cfg.Repo)
	if err != nil {
		t.Fatal(err)
	}
	vars := maps.Clone(LabVars)
	vars["__interval"], vars["nexthop"] = "2s", ".*"
	found := false
	for _, a := range as {
		if a.Dashboard != "route-actuator.json" || a.Name != "Nexthop changes (cause)" {
			continue
		}
		found = true
		now := time.Now()
		res, err := e.QueryRange(Substitute(a.Expr, vars), now.Add(-10*time.Minute), now, 2*time.Second)
		if err != nil {
			t.Fatalf("annotation %q: %v", a.Name, err)
		}
		// A counter still at 0 never changed: no event may name it.
		zero, err := e.Query(`route_actuator_nexthop_changes_total == 0`)
		if err != nil {
			t.Fatal(err)
		}
		key := func(m map[string]string) string {
			return m["route"] + " " + m["nexthop"] + " " + m["change"] + " " + m["cause"]
		}
		unchanged := map[string]bool{}
		for _, s := range zero {
			unchanged[key(s.Metric)] = true
		}
		seen := map[string]int{}
		for _, s := range res {
			if s.Metric["change"] == "" || s.Metric["cause"] == "" || s.Metric["nexthop"] == "" || s.Metric["route"] == "" {
				t.Errorf("annotation event without change, cause, nexthop or route: %v", s.Metric)
			}
			if unchanged[key(s.Metric)] {
				t.Errorf("annotation event at %v for %s, whose counter is still 0", s.At, key(s.Metric))
			}
			seen[s.Metric["change"]+" "+s.Metric["cause"]]++
		}
		t.Logf("annotation %q: events by change and cause %v", a.Name, seen)
		if len(res) == 0 {
			t.Errorf("annotation %q: no events in the last 10 minutes", a.Name)
		}
		if wantAlert && (seen["removed alert"] == 0 || seen["added alert"] == 0) {
			counts, _ := e.Query(`route_actuator_nexthop_changes_total > 0`)
			t.Errorf("annotation %q: no alert withdraw and restore among %v; counters > 0: %v", a.Name, slices.Sorted(maps.Keys(seen)), counts)
		}
	}
	if !found {
		t.Error(`route-actuator.json has no "Nexthop changes (cause)" annotation`)
	}
}
