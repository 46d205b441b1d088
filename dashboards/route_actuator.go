package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// rsel filters route_actuator series by the dashboard's variables.
const (
	rsel  = scrapeSel + `, route=~"$service"`
	rnsel = scrapeSel + `, route=~"$service", nexthop=~"$nexthop"`
)

// nexthopChanges is the per-nexthop change counter with its cause
// (added/removed; alert, drain, dampening, guard, drift, startup, reload).
const nexthopChanges = `route_actuator_nexthop_changes_total{` + rnsel + `}`

// perNexthop is a per-route, per-nexthop series of the selection.
func perNexthop(metric string) *prometheus.DataqueryBuilder {
	return q(metric+`{`+rnsel+`}`, "{{route}} via {{nexthop}}")
}

// RouteActuator is route-actuator.json: what the actuator installed and why.
func RouteActuator() (dashboard.Dashboard, error) {
	d := newBoard("slaroute-route-actuator", "slaroute / route_actuator",
		"route_actuator: installed nexthops per route, changes and their causes, drains and dampening, guards and freezes, webhooks and backend.",
		`label_values(route_actuator_pipeline_healthy, job)`,
		`label_values(route_actuator_pipeline_healthy{job=~"$job"}, instance)`)
	d.queryVar("service", "Service (route)", `label_values(route_actuator_route_configured_nexthops{`+scrapeSel+`}, route)`, "Route prefix (label route)")
	d.queryVar("nexthop", "Nexthop", `label_values(route_actuator_nexthop_installed{`+scrapeSel+`, route=~"$service"}, nexthop)`, "Nexthop address (label nexthop)")
	// One event per nexthop change with its cause: the counter's growth
	// over the step (changes() over [$__interval] would miss a change that
	// falls between a window's last sample and the next window's first),
	// and a counter born with its first change (the series starts at 1;
	// `> 0` leaves out those the actuator creates at 0 when it starts).
	d.annotation("Nexthop changes (cause)", "orange",
		`(`+nexthopChanges+` - `+nexthopChanges+` offset $__interval) > 0 or (`+nexthopChanges+` unless `+nexthopChanges+` offset $__interval) > 0`,
		"{{change}} {{nexthop}} on {{route}}", "cause: {{cause}} ({{instance}})", "change,cause,nexthop")
	d.annotation("Route change failures", "red",
		`sum by (action, result) (increase(route_actuator_changes_total{`+scrapeSel+`, result!="success"}[$__rate_interval])) > 0`,
		"route {{action}} ({{result}})", "route_actuator could not apply a change", "action,result")

	d.row(4)
	d.add(4, withStates(statPanel("Actuator up", "Prometheus can scrape route_actuator.", "none",
		q(`up{`+scrapeSel+`}`, "{{instance}}")), "down", "up", "red", "green"))
	d.add(4, withStates(statPanel("Alert pipeline", "Heartbeat (DNSSLAWatchdog) seen and fresh; when not, every route is frozen.", "none",
		q(`route_actuator_pipeline_healthy{`+scrapeSel+`}`, "{{instance}}")), "no heartbeat", "healthy", "red", "green"))
	d.add(4, withStates(statPanel("Dry run", "In dry run the actuator computes and exposes its plan but changes nothing.", "none",
		q(`route_actuator_dry_run{`+scrapeSel+`}`, "{{instance}}")), "off", "dry run", "green", "orange"))
	d.add(4, withStates(statPanel("Last reload", "Whether the last configuration reload succeeded.", "none",
		q(`route_actuator_config_last_reload_successful{`+scrapeSel+`}`, "{{instance}}")), "failed", "ok", "red", "green"))
	d.add(4, withThresholds(statPanel("Since last resync", "Time since the last successful list/diff/apply/verify cycle.", "s",
		q(`time() - route_actuator_last_resync_success_timestamp_seconds{`+scrapeSel+`}`, "{{instance}}")), step("orange", 30), step("red", 60)))
	d.add(4, withThresholds(statPanel("Installed nexthops", "Nexthops installed per route now.", "short",
		q(`route_actuator_route_installed_nexthops{`+rsel+`}`, "{{route}}")), step("red", 0), step("green", 1)))

	d.row(8)
	d.add(12, stepped(timeseriesPanel("Nexthops per route", "Configured, desired (healthy) and installed nexthops per route over time.", "short",
		q(`route_actuator_route_configured_nexthops{`+rsel+`}`, "configured {{route}}"),
		q(`route_actuator_route_desired_nexthops{`+rsel+`}`, "desired {{route}}"),
		q(`route_actuator_route_installed_nexthops{`+rsel+`}`, "installed {{route}}"))))
	d.add(12, stateTimeline("Installed nexthops", "Each configured nexthop: installed in the route or withdrawn.",
		"withdrawn", "installed", "red", "green",
		perNexthop("route_actuator_nexthop_installed")))

	d.row(7)
	d.add(12, stateTimeline("Desired nexthops", "Each configured nexthop: wanted (no withdraw alert, drain or suppression) or not.",
		"withdraw", "keep", "orange", "green",
		perNexthop("route_actuator_nexthop_desired")))
	d.add(12, stateTimeline("Guard, freeze and convergence", "Guards keeping nexthops (min_nexthops, fail_open), frozen routes, and routes whose installed nexthops differ from the desired ones.",
		"off", "on", "transparent", "orange",
		q(`route_actuator_guard_active{`+rsel+`}`, "guard {{reason}} {{route}}"),
		q(`route_actuator_route_frozen{`+rsel+`}`, "frozen {{route}}"),
		q(`1 - route_actuator_route_converged{`+rsel+`}`, "not converged {{route}}")))

	d.row(7)
	d.add(8, stateTimeline("Drained nexthops", "Nexthops an operator drained for maintenance (POST /api/v1/drains, slaroutectl drain add): withdrawn whatever their health until the drain ends or expires.",
		"in service", "drained", "transparent", "blue",
		perNexthop("route_actuator_nexthop_drained")))
	d.add(8, stateTimeline("Suppressed nexthops", "Nexthops kept out by flap dampening: the penalty is above suppress_threshold, or has not decayed below reuse_threshold yet.",
		"not suppressed", "suppressed", "transparent", "purple",
		perNexthop("route_actuator_nexthop_suppressed")))
	d.add(8, stepped(timeseriesPanel("Dampening penalty", "Flap penalty per nexthop: grows by `penalty` at each alert withdraw, halves every half_life; suppressed above suppress_threshold, reused below reuse_threshold.", "short",
		perNexthop("route_actuator_dampening_penalty"))))

	d.row(8)
	d.add(8, bars(timeseriesPanel("Nexthop changes by cause", "Nexthops added to or removed from routes per interval, by cause (alert, drain, dampening, guard, drift repair, startup, reload).", "short",
		q(`sum by (change, cause) (increase(`+nexthopChanges+`[$__rate_interval]))`, "{{change}} {{cause}}"))))
	d.add(8, bars(timeseriesPanel("Guard activations", "Times a guard engaged, per route and reason.", "short",
		q(`sum by (route, reason) (increase(route_actuator_guard_activations_total{`+rsel+`}[$__rate_interval]))`, "{{reason}} {{route}}"))))
	d.add(8, timeseriesPanel("Alerts received and ignored", "Alert events from webhooks by status, and those that changed nothing by reason.", "ops",
		q(`sum by (status) (rate(route_actuator_alerts_received_total{`+scrapeSel+`}[$__rate_interval]))`, "received {{status}}"),
		q(`sum by (reason) (rate(route_actuator_alerts_ignored_total{`+scrapeSel+`}[$__rate_interval]))`, "ignored {{reason}}")))

	d.row(8)
	d.add(6, bars(timeseriesPanel("Route changes", "Route changes per interval by action and result.", "short",
		q(`sum by (action, result) (increase(route_actuator_changes_total{`+scrapeSel+`}[$__rate_interval]))`, "{{action}} {{result}}"))))
	d.add(6, timeseriesPanel("Webhook requests by status code", "Alertmanager webhook requests per second by HTTP status (401: wrong credentials, 400: bad payload).", "reqps",
		q(`sum by (code) (rate(route_actuator_webhook_requests_total{`+scrapeSel+`}[$__rate_interval]))`, "{{code}}")))
	d.add(6, timeseriesPanel("Apply latency", "Time to apply a change to the backend (p50, p99).", "s",
		q(`histogram_quantile(0.5, sum by (le) (rate(route_actuator_apply_duration_seconds_bucket{`+scrapeSel+`}[$__rate_interval])))`, "p50"),
		q(`histogram_quantile(0.99, sum by (le) (rate(route_actuator_apply_duration_seconds_bucket{`+scrapeSel+`}[$__rate_interval])))`, "p99")))
	d.add(6, bars(timeseriesPanel("Backend errors", "Backend errors per interval by operation (list, apply, verify).", "short",
		q(`sum by (operation) (increase(route_actuator_backend_errors_total{`+scrapeSel+`}[$__rate_interval]))`, "{{operation}}"))))

	d.row(6)
	d.add(6, withStates(statPanel("IOS session", "SSH session to the IOS router (ios backend only).", "none",
		q(`route_actuator_ios_session_up{`+scrapeSel+`}`, "{{instance}}")), "down", "up", "red", "green"))
	d.add(6, timeseriesPanel("IOS command latency", "p99 time of one CLI command over SSH (ios backend only).", "s",
		q(`histogram_quantile(0.99, sum by (le) (rate(route_actuator_ios_command_duration_seconds_bucket{`+scrapeSel+`}[$__rate_interval])))`, "p99")))
	d.add(6, bars(timeseriesPanel("IOS reconnects and CLI errors", "SSH reconnects and rejected CLI commands per interval (ios backend only).", "short",
		q(`sum(increase(route_actuator_ios_reconnects_total{`+scrapeSel+`}[$__rate_interval]))`, "reconnects"),
		q(`sum(increase(route_actuator_ios_cli_errors_total{`+scrapeSel+`}[$__rate_interval]))`, "CLI errors"))))
	d.add(6, timeseriesPanel("Scrape duration", "Time Prometheus takes to scrape route_actuator.", "s",
		q(`scrape_duration_seconds{`+scrapeSel+`}`, "{{instance}}")))
	return d.build()
}
