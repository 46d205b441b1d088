package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// sel filters per-target series by the dashboard's variables.
const sel = scrapeSel + `, service=~"$service", target=~"$target"`

// DNSSLA is dns-sla.json: what the probes see, per DNS server.
//
// Recorded series (rules/dns_sla.rules.yml) sum the exporter instances away,
// so panels that must not mix exporters compute from the raw series instead.
func DNSSLA() (dashboard.Dashboard, error) {
	// Both jobs that scrape the exporter: the 250ms verdict job
	// (collect[]=verdict, changed_within) and the 15s full job.
	d := newBoard("slaroute-dns-sla", "slaroute / DNS SLA",
		"dns_sla_exporter: per-server state, round-trip time, failures and exporter health.",
		`query_result(group by (job) (dns_sla_verdict or dns_sla_targets))`,
		`query_result(group by (instance) (dns_sla_verdict{job=~"$job"} or dns_sla_targets{job=~"$job"}))`)
	d.queryVar("service", "Service", `label_values(dns_sla_up{`+scrapeSel+`}, service)`, "Service prefix (label service)")
	d.queryVar("target", "Target", `label_values(dns_sla_up{`+scrapeSel+`, service=~"$service"}, target)`, "DNS server (label target)")
	d.annotation("DNSServerDown", "red",
		`ALERTS{alertname="DNSServerDown", alertstate="firing", `+sel+`}`,
		"DNSServerDown {{target}}", "nexthop {{nexthop}} withdrawn from {{service}}", "target,nexthop")
	// An exporter that is not scraped at all raises the alert from absent():
	// no instance label, hence the empty alternative.
	d.annotation("DNSSLAProbesMissing", "purple",
		`ALERTS{alertname="DNSSLAProbesMissing", alertstate="firing", job=~"$job", instance=~"$instance|"}`,
		"DNSSLAProbesMissing", "routes frozen: {{instance}} {{target}}", "instance,target")

	d.row(4)
	d.add(6, withThresholds(statPanel("Healthy servers", "Servers whose last probe succeeded, per service.", "short",
		q(`sum by (service) (dns_sla_up{`+sel+`})`, "{{service}}")), step("red", 0), step("green", 1)))
	d.add(6, statPanel("Configured servers", "Probed servers per service.", "short",
		q(`count by (service) (dns_sla_up{`+sel+`})`, "{{service}}")))
	d.add(6, withThresholds(statPanel("Availability (1h)", "Share of scraped samples with dns_sla_up = 1 over the last hour.", "percentunit",
		q(`target:dns_sla_up:avg_over_time1h{`+sel+`}`, "{{target}}")), step("red", 0), step("orange", 0.99), step("green", 0.999)))
	d.add(6, withThresholds(statPanel("Since last success", "Time since each server last answered a probe correctly.", "s",
		q(`time() - dns_sla_last_success_timestamp_seconds{`+sel+`}`, "{{target}}")), step("orange", 2), step("red", 5)))

	d.row(7)
	// What DNSServerDown reads, at 250ms, where the verdict job has it (a
	// failing target, or one recovered less than 10m ago), else the 15s job's complete
	// verdict: 1 up, 0 failing; a target not probed yet (verdict -1) is a gap.
	d.add(24, stateTimeline("Server state", "dns_sla_verdict per server, from the 250ms verdict job around failures and the 15s job otherwise: up if its last probe succeeded. DNSServerDown (and the route withdraw) follows the first failed probe; a gap is a target not probed yet.",
		"down", "up", "red", "green",
		q(`max without (job) ((dns_sla_verdict{job="dns_sla_verdict", `+sel+`} or on (instance, target, nexthop, service) dns_sla_verdict{job!="dns_sla_verdict", `+sel+`}) >= 0) == bool 0`,
			"{{target}} ({{nexthop}})")))

	d.row(8)
	d.add(12, timeseriesPanel("Round-trip time percentiles", "p50, p90 and p99 of answered probes. Timed-out probes are not in the histogram: see failures.", "s",
		q(`histogram_quantile(0.5, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p50 {{target}}"),
		q(`histogram_quantile(0.9, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p90 {{target}}"),
		q(`histogram_quantile(0.99, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "p99 {{target}}")))
	d.add(12, heatmapPanel("Round-trip time heatmap", "Answered probes per round-trip time bucket, all selected servers.", "s",
		q(`sum by (le) (increase(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval]))`, "{{le}}")))

	d.row(8)
	d.add(12, bars(timeseriesPanel("Failures by result", "Failed probes per second by result (timeout, servfail, refused, ...).", "ops",
		q(`sum by (target, result) (rate(dns_sla_probes_total{result!="success", `+sel+`}[$__rate_interval]))`, "{{target}} {{result}}"))))
	d.add(12, timeseriesPanel("p99 round-trip time against the SLO", "p99 of answered probes per server; DNSServerSlow fires when the p99 over 1m (recorded, all exporters of the job together) stays above 200ms for 2m.", "s",
		q(`histogram_quantile(0.99, sum by (target, le) (rate(dns_sla_probe_duration_seconds_bucket{`+sel+`}[$__rate_interval])))`, "{{target}}")).
		Thresholds(thresholds(step("red", 0.2))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)))

	d.row(8)
	d.add(8, timeseriesPanel("Probe rate", "Completed probes per second per server (1/interval when healthy or failing fast).", "ops",
		q(`sum by (target) (rate(dns_sla_probes_total{`+sel+`}[$__rate_interval]))`, "{{target}}")))
	d.add(8, stepped(timeseriesPanel("Consecutive failures", "Failed probes in a row; DNSServerDown fires at >= 1.", "short",
		q(`dns_sla_consecutive_failures{`+sel+`}`, "{{target}}"))))
	d.add(8, timeseriesPanel("Failure ratio", "Share of failed probes per server over the rate interval.", "percentunit",
		q(`sum by (target) (rate(dns_sla_probes_total{result!="success", `+sel+`}[$__rate_interval])) / sum by (target) (rate(dns_sla_probes_total{`+sel+`}[$__rate_interval]))`, "{{target}}")))

	d.row(6)
	d.add(4, withStates(statPanel("Exporter up", "Prometheus can scrape the exporter (each job that scrapes it); if not, DNSSLAProbesMissing freezes every route.", "none",
		q(`up{`+scrapeSel+`}`, "{{job}}")), "down", "up", "red", "green"))
	d.add(4, statPanel("Targets", "Targets in the exporter's configuration.", "short",
		q(`dns_sla_targets{`+scrapeSel+`}`, "{{instance}}")))
	d.add(4, withStates(statPanel("Last reload", "Whether the last configuration reload succeeded (a failed one keeps the old configuration).", "none",
		q(`dns_sla_exporter_config_last_reload_successful{`+scrapeSel+`}`, "{{instance}}")), "failed", "ok", "red", "green"))
	d.add(6, timeseriesPanel("Scheduling lag", "How late probes start against their schedule (p50, p99).", "s",
		q(`histogram_quantile(0.5, sum by (instance, le) (rate(dns_sla_scheduling_lag_seconds_bucket{`+scrapeSel+`}[$__rate_interval])))`, "p50 {{instance}}"),
		q(`histogram_quantile(0.99, sum by (instance, le) (rate(dns_sla_scheduling_lag_seconds_bucket{`+scrapeSel+`}[$__rate_interval])))`, "p99 {{instance}}")))
	d.add(6, timeseriesPanel("Scrape duration", "Time Prometheus takes to scrape the exporter, per job (the verdict job's timeout is its 250ms interval).", "s",
		q(`scrape_duration_seconds{`+scrapeSel+`}`, "{{job}}")))

	d.row(6)
	d.add(12, timeseriesPanel("Exporter CPU", "CPU used by the exporter, in cores.", "percentunit",
		q(`rate(process_cpu_seconds_total{`+scrapeSel+`}[$__rate_interval])`, "{{instance}}")))
	d.add(12, timeseriesPanel("Exporter memory", "Resident memory of the exporter.", "bytes",
		q(`process_resident_memory_bytes{`+scrapeSel+`}`, "{{instance}}")))
	return d.build()
}
