package dashboards

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A small PromQL scanner: enough to find the metric names an expression
// selects without importing Prometheus' parser (which would pull most of
// Prometheus into go.mod). It drops what cannot hold a metric name (strings,
// label matchers, ranges, grouping label lists), then keeps identifiers that
// are neither keywords nor followed by "(" (function or aggregation calls).
var (
	promStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	promRanges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promTokens   = regexp.MustCompile(`\$\{?\w+\}?|(?:\d+(?:ms|[smhdwy]))+\b|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[a-zA-Z_:][a-zA-Z0-9_:]*|\S`)
	promKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "inf": true, "nan": true,
	}
	identifier = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// metricNames returns the metric names selected by a PromQL expression, in order of appearance.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	toks := promTokens.FindAllString(s, -1)
	var names []string
	for i, t := range toks {
		if !identifier.MatchString(t) || promKeywords[strings.ToLower(t)] {
			continue
		}
		if i+1 < len(toks) && toks[i+1] == "(" {
			continue // function or aggregation
		}
		if !slices.Contains(names, t) {
			names = append(names, t)
		}
	}
	return names
}

// labelValuesSelector returns the series selector of a Grafana
// label_values(selector, label) variable query, the expression of a
// query_result(expr) one, or the query itself.
func labelValuesSelector(query string) string {
	if m := regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`).FindStringSubmatch(query); m != nil {
		return m[1]
	}
	if m := regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`).FindStringSubmatch(query); m != nil {
		return m[1]
	}
	return query
}

func TestMetricNamesTokenizer(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`dns_sla_up{service=~"$service", target=~"a|b"}`, []string{"dns_sla_up"}},
		{`sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{job="x"}[$__rate_interval]))`,
			[]string{"dns_sla_probe_duration_seconds_bucket"}},
		{`histogram_quantile(0.99, sum(rate(a_bucket[5m])) by (le))`, []string{"a_bucket"}},
		{`time() - dns_sla_last_success_timestamp_seconds`, []string{"dns_sla_last_success_timestamp_seconds"}},
		{`a / on (instance) group_left (version) b_info`, []string{"a", "b_info"}},
		{`x > bool 1e3 and y offset 5m or z unless w`, []string{"x", "y", "z", "w"}},
		{`level:metric:rate1m{a="b}"} * 2.5 + 0x1F`, []string{"level:metric:rate1m"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{`count without (result) (rate(c_total[1h30m] offset 1d)) > Inf`, []string{"c_total"}},
		{`vector(1)`, nil},
		{`sum by (route) (increase(x{route=~"$service"}[$__rate_interval])) > 0`, []string{"x"}},
		{`1 - route_actuator_route_converged{route=~"$service"}`, []string{"route_actuator_route_converged"}},
		{`max_over_time(m[1m:10s])`, []string{"m"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
	for q, want := range map[string]string{
		`label_values(dns_sla_up{service=~"$service"}, target)`: `dns_sla_up{service=~"$service"}`,
		`label_values(x, route)`:                                `x`,
		`query_result(group by (job) (up))`:                     `group by (job) (up)`,
		`sum(up)`:                                               `sum(up)`,
	} {
		if got := labelValuesSelector(q); got != want {
			t.Errorf("labelValuesSelector(%q) = %q, want %q", q, got, want)
		}
	}
}
