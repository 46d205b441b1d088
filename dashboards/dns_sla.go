package dashboards

// sel filters per-target series by the dashboard's variables.
const sel = `service=~"$service", target=~"$target"`

// DNSSLA is dns-sla.json: what the probes see, per DNS server.
func DNSSLA() *Dashboard {
	d := newDashboard("slaroute-dns-sla", "slaroute / DNS SLA",
		"dns_sla_exporter: per-server state, round-trip time, failures and exporter health.")
	d.queryVar("service", "Service", `label_values(dns_sla_up, service)`, "Service prefix (label service)")
	d.queryVar("target", "Target", `label_values(dns_sla_up{service=~"$service"}, target)`, "DNS server (label target)")
	d.annotation("DNSServerDown", "red",
		`ALERTS{alertname="DNSServerDown", alertstate="firing", `+sel+`}`,
		"DNSServerDown {{target}}", "nexthop {{nexthop}} withdrawn from {{service}}", "target,nexthop")
	d.annotation("DNSSLAProbesMissing", "purple",
		`ALERTS{alertname="DNSSLAProbesMissing", alertstate="firing"}`,
		"DNSSLAProbesMissing", "routes frozen: {{instance}} {{target}}", "instance,target")

	l := &layout{d: d}
	l.row(4)
	l.add(6, withThresholds(stat("Healthy servers", "Servers whose last probe succeeded, per service.", "short",
		q(`service:dns_sla_up:sum{service=~"$service"}`, "{{service}}")), Step{Color: "red", Value: ptr(0.0)}, Step{Color: "green", Value: ptr(1.0)}))
	l.add(6, stat("Configured servers", "Probed servers per service.", "short",
		q(`service:dns_sla_up:count{service=~"$service"}`, "{{service}}")))
	l.add(6, withThresholds(stat("Availability (1h)", "Share of scraped samples with dns_sla_up = 1 over the last hour.", "percentunit",
		q(`target:dns_sla_up:avg_over_time1h{`+sel+`}`, "{{target}}")), Step{Color: "red", Value: ptr(0.0)}, Step{Color: "orange", Value: ptr(0.99)}, Step{Color: "green", Value: ptr(0.999)}))
	l.add(6, withThresholds(stat("Since last success", "Time since each server last answered a probe correctly.", "s",
		q(`time() - dns_sla_last_success_timestamp_seconds{`+sel+`}`, "{{target}}")), Step{Color: "orange", Value: ptr(2.0)}, Step{Color: "red", Value: ptr(5.0)}))

	l.row(7)
	l.add(24, stateTimeline("Server state", "dns_sla_up per server: up if its last probe succeeded. DNSServerDown (and the route withdraw) follows the first failed probe.",
		"down", "up", "red", "green",
		q(`dns_sla_up{`+sel+`}`, "{{target}} ({{nexthop}})")))

	l.row(8)
	l.add(12, timeseries("Round-trip time percentiles", "p50, p90 and p99 of answered probes. Timed-out probes are not in the histogram: see failures.", "s",
		q(`histogram_quantile(0.5, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p50 {{target}}"),
		q(`histogram_quantile(0.9, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p90 {{target}}"),
		q(`histogram_quantile(0.99, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p99 {{target}}")))
	l.add(12, heatmap("Round-trip time heatmap", "Answered probes per round-trip time bucket, all selected servers.", "s",
		q(`sum by (le) (increase(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval]))`, "{{le}}")))

	l.row(8)
	l.add(12, bars(timeseries("Failures by result", "Failed probes per second by result (timeout, servfail, refused, ...).", "ops",
		q(`sum by (target, result) (rate(dns_sla_probes_total{result!="success", `+sel+`}[$__rate_interval]))`, "{{target}} {{result}}"))))
	l.add(12, timeseries("p99 round-trip time (1m) against the SLO", "Recorded p99 over 1m per server; DNSServerSlow fires above 200ms for 2m.", "s",
		q(`target:dns_sla_probe_duration_seconds:p99_1m{`+sel+`}`, "{{target}}")))

	l.row(8)
	l.add(8, timeseries("Probe rate", "Completed probes per second per server (1/interval when healthy or failing fast).", "ops",
		q(`sum by (target) (rate(dns_sla_probes_total{`+sel+`}[$__rate_interval]))`, "{{target}}")))
	l.add(8, stepped(timeseries("Consecutive failures", "Failed probes in a row; DNSServerDown fires at >= 1.", "short",
		q(`dns_sla_consecutive_failures{`+sel+`}`, "{{target}}"))))
	l.add(8, timeseries("Failure ratio (5m)", "Share of failed probes over 5 minutes.", "percentunit",
		q(`target:dns_sla_probe_failures:ratio_rate5m{`+sel+`}`, "{{target}}")))

	l.row(6)
	l.add(4, withStates(stat("Exporter up", "Prometheus can scrape the exporter; if not, DNSSLAProbesMissing freezes every route.", "none",
		q(`up{job="dns_sla"}`, "{{instance}}")), "down", "up", "red", "green"))
	l.add(4, stat("Targets", "Targets in the exporter's configuration.", "short",
		q(`dns_sla_targets{job="dns_sla"}`, "{{instance}}")))
	l.add(4, withStates(stat("Last reload", "Whether the last configuration reload succeeded (a failed one keeps the old configuration).", "none",
		q(`dns_sla_exporter_config_last_reload_successful{job="dns_sla"}`, "{{instance}}")), "failed", "ok", "red", "green"))
	l.add(6, timeseries("Scheduling lag", "How late probes start against their schedule (p50, p99).", "s",
		q(`histogram_quantile(0.5, sum by (instance, le) (rate(dns_sla_scheduling_lag_seconds_bucket{job="dns_sla"}[$__rate_interval])))`, "p50 {{instance}}"),
		q(`histogram_quantile(0.99, sum by (instance, le) (rate(dns_sla_scheduling_lag_seconds_bucket{job="dns_sla"}[$__rate_interval])))`, "p99 {{instance}}")))
	l.add(6, timeseries("Scrape duration", "Time Prometheus takes to scrape the exporter (scrape timeout 900ms).", "s",
		q(`scrape_duration_seconds{job="dns_sla"}`, "{{instance}}")))

	l.row(6)
	l.add(12, timeseries("Exporter CPU", "CPU used by the exporter, in cores.", "percentunit",
		q(`rate(process_cpu_seconds_total{job="dns_sla"}[$__rate_interval])`, "{{instance}}")))
	l.add(12, timeseries("Exporter memory", "Resident memory of the exporter.", "bytes",
		q(`process_resident_memory_bytes{job="dns_sla"}`, "{{instance}}")))
	return d
}
