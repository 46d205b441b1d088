package dashboards

// rsel filters route_actuator series by the dashboard's variables.
const (
	rsel  = `route=~"$service"`
	rnsel = `route=~"$service", nexthop=~"$nexthop"`
)

// RouteActuator is route-actuator.json: what the actuator installed and why.
func RouteActuator() *Dashboard {
	d := newDashboard("slaroute-route-actuator", "slaroute / route_actuator",
		"route_actuator: installed nexthops per route, changes, guards and freezes, webhooks and backend.")
	d.queryVar("service", "Service (route)", `label_values(route_actuator_route_configured_nexthops, route)`, "Route prefix (label route)")
	d.queryVar("nexthop", "Nexthop", `label_values(route_actuator_nexthop_installed{route=~"$service"}, nexthop)`, "Nexthop address (label nexthop)")
	d.annotation("Route changes", "orange",
		`sum by (action, result) (increase(route_actuator_changes_total[$__rate_interval])) > 0`,
		"route {{action}} ({{result}})", "route_actuator changed a route", "action,result")
	d.annotation("Nexthop withdrawn or restored", "blue",
		`changes(route_actuator_nexthop_installed{`+rnsel+`}[$__rate_interval]) > 0`,
		"{{nexthop}} on {{route}}", "installed state of {{nexthop}} changed", "route,nexthop")

	l := &layout{d: d}
	l.row(4)
	l.add(4, withStates(stat("Actuator up", "Prometheus can scrape route_actuator.", "none",
		q(`up{job="route_actuator"}`, "{{instance}}")), "down", "up", "red", "green"))
	l.add(4, withStates(stat("Alert pipeline", "Heartbeat (DNSSLAWatchdog) seen and fresh; when not, every route is frozen.", "none",
		q(`route_actuator_pipeline_healthy`, "{{instance}}")), "no heartbeat", "healthy", "red", "green"))
	l.add(4, withStates(stat("Dry run", "In dry run the actuator computes and exposes its plan but changes nothing.", "none",
		q(`route_actuator_dry_run`, "{{instance}}")), "off", "dry run", "green", "orange"))
	l.add(4, withStates(stat("Last reload", "Whether the last configuration reload succeeded.", "none",
		q(`route_actuator_config_last_reload_successful`, "{{instance}}")), "failed", "ok", "red", "green"))
	l.add(4, withThresholds(stat("Since last resync", "Time since the last successful list/diff/apply/verify cycle.", "s",
		q(`time() - route_actuator_last_resync_success_timestamp_seconds`, "{{instance}}")), Step{Color: "orange", Value: ptr(30.0)}, Step{Color: "red", Value: ptr(60.0)}))
	l.add(4, withThresholds(stat("Installed nexthops", "Nexthops installed per route now.", "short",
		q(`route_actuator_route_installed_nexthops{`+rsel+`}`, "{{route}}")), Step{Color: "red", Value: ptr(0.0)}, Step{Color: "green", Value: ptr(1.0)}))

	l.row(8)
	l.add(12, stepped(timeseries("Nexthops per route", "Configured, desired (healthy) and installed nexthops per route over time.", "short",
		q(`route_actuator_route_configured_nexthops{`+rsel+`}`, "configured {{route}}"),
		q(`route_actuator_route_desired_nexthops{`+rsel+`}`, "desired {{route}}"),
		q(`route_actuator_route_installed_nexthops{`+rsel+`}`, "installed {{route}}"))))
	l.add(12, stateTimeline("Installed nexthops", "Each configured nexthop: installed in the route or withdrawn.",
		"withdrawn", "installed", "red", "green",
		q(`route_actuator_nexthop_installed{`+rnsel+`}`, "{{route}} via {{nexthop}}")))

	l.row(7)
	l.add(12, stateTimeline("Desired nexthops", "Each configured nexthop: wanted (no withdraw alert) or not.",
		"withdraw", "keep", "orange", "green",
		q(`route_actuator_nexthop_desired{`+rnsel+`}`, "{{route}} via {{nexthop}}")))
	l.add(12, stateTimeline("Guard, freeze and convergence", "Guards keeping nexthops (min_nexthops, fail_open), frozen routes, and routes whose installed nexthops differ from the desired ones.",
		"off", "on", "transparent", "orange",
		q(`route_actuator_guard_active{`+rsel+`}`, "guard {{reason}} {{route}}"),
		q(`route_actuator_route_frozen{`+rsel+`}`, "frozen {{route}}"),
		q(`1 - route_actuator_route_converged{`+rsel+`}`, "not converged {{route}}")))

	l.row(8)
	l.add(8, bars(timeseries("Route changes", "Route changes per interval by action and result.", "short",
		q(`sum by (action, result) (increase(route_actuator_changes_total[$__rate_interval]))`, "{{action}} {{result}}"))))
	l.add(8, bars(timeseries("Guard activations", "Times a guard engaged, per route and reason.", "short",
		q(`sum by (route, reason) (increase(route_actuator_guard_activations_total{`+rsel+`}[$__rate_interval]))`, "{{reason}} {{route}}"))))
	l.add(8, timeseries("Alerts received and ignored", "Alert events from webhooks by status, and those that changed nothing by reason.", "ops",
		q(`sum by (status) (rate(route_actuator_alerts_received_total[$__rate_interval]))`, "received {{status}}"),
		q(`sum by (reason) (rate(route_actuator_alerts_ignored_total[$__rate_interval]))`, "ignored {{reason}}")))

	l.row(8)
	l.add(8, timeseries("Webhook requests by status code", "Alertmanager webhook requests per second by HTTP status (401: wrong credentials, 400: bad payload).", "reqps",
		q(`sum by (code) (rate(route_actuator_webhook_requests_total[$__rate_interval]))`, "{{code}}")))
	l.add(8, timeseries("Apply latency", "Time to apply a change to the backend (p50, p99).", "s",
		q(`histogram_quantile(0.5, sum by (le) (rate(route_actuator_apply_duration_seconds_bucket[$__rate_interval])))`, "p50"),
		q(`histogram_quantile(0.99, sum by (le) (rate(route_actuator_apply_duration_seconds_bucket[$__rate_interval])))`, "p99")))
	l.add(8, bars(timeseries("Backend errors", "Backend errors per interval by operation (list, apply, verify).", "short",
		q(`sum by (operation) (increase(route_actuator_backend_errors_total[$__rate_interval]))`, "{{operation}}"))))

	l.row(6)
	l.add(6, withStates(stat("IOS session", "SSH session to the IOS router (ios backend only).", "none",
		q(`route_actuator_ios_session_up`, "{{instance}}")), "down", "up", "red", "green"))
	l.add(6, timeseries("IOS command latency", "p99 time of one CLI command over SSH (ios backend only).", "s",
		q(`histogram_quantile(0.99, sum by (le) (rate(route_actuator_ios_command_duration_seconds_bucket[$__rate_interval])))`, "p99")))
	l.add(6, bars(timeseries("IOS reconnects and CLI errors", "SSH reconnects and rejected CLI commands per interval (ios backend only).", "short",
		q(`sum(increase(route_actuator_ios_reconnects_total[$__rate_interval]))`, "reconnects"),
		q(`sum(increase(route_actuator_ios_cli_errors_total[$__rate_interval]))`, "CLI errors"))))
	l.add(6, timeseries("Scrape duration", "Time Prometheus takes to scrape route_actuator.", "s",
		q(`scrape_duration_seconds{job="route_actuator"}`, "{{instance}}")))
	return d
}
