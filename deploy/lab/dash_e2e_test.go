//go:build e2e && linux

package lab

import (
	"testing"
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
	empty := 0
	for _, q := range qs {
		expr := Substitute(q.Expr, LabVars)
		res, err := e.Query(expr)
		switch {
		case err != nil:
			t.Errorf("%s / %q (%s): %v", q.Dashboard, q.Panel, q.RefID, err)
		case len(res) == 0:
			empty++
			t.Errorf("%s / %q (%s): no data for %s", q.Dashboard, q.Panel, q.RefID, expr)
		}
	}
	t.Logf("%d panel queries, %d without data", len(qs), empty)
}
