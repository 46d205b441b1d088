//go:build e2e && linux

package lab

import (
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
