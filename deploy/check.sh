#!/usr/bin/env bash
# Checks every shipped deployment file with the tool that consumes it:
# promtool (Prometheus config, rules), amtool (Alertmanager config), each
# binary's --config.check (example configs), route_actuator with the example
# web config (the webhook password Alertmanager is told to use really works),
# and systemd-analyze (units). Run by `make test-deploy`; exits non-zero on
# the first failed check, after printing what failed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SLAROUTE_BIN:-$PWD/bin}
fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

for tool in promtool amtool systemd-analyze curl ss ssh-keygen; do
	command -v "$tool" >/dev/null || fail "$tool not found (run make deps)"
done
for b in dns_sla_exporter route_actuator; do
	[ -x "$BIN/$b" ] || fail "$BIN/$b missing: run make build"
done
for f in deploy/examples/dns_sla_exporter.yml deploy/examples/route_actuator.yml deploy/examples/route_actuator_ios.yml deploy/examples/route_actuator_bgp.yml deploy/examples/web-config.yml \
	deploy/alertmanager/route_actuator.password deploy/prometheus/prometheus.yml deploy/alertmanager/alertmanager.yml \
	deploy/prometheus/scrape_slaroute.yml deploy/prometheus/site-local.yml deploy/prometheus/central_federate.yml \
	deploy/alertmanager/router-pair.yml; do
	[ -f "$f" ] || fail "$f missing"
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

step "promtool check config deploy/prometheus/prometheus.yml (and its rule files)"
promtool check config deploy/prometheus/prometheus.yml

step "amtool check-config deploy/alertmanager/alertmanager.yml, and where each alert goes"
amtool check-config deploy/alertmanager/alertmanager.yml
# The driving alerts reach route_actuator and people; the heartbeat nobody else.
for want in DNSServerDown=route_actuator,operators DNSSLAProbesMissing=route_actuator,operators \
	DNSSLAWatchdog=route_actuator,blackhole DNSServerSlow=operators RouteActuatorDown=operators; do
	got=$(amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml "alertname=${want%%=*}" 2>/dev/null)
	[ "$got" = "${want#*=}" ] || fail "alertmanager.yml routes ${want%%=*} to '$got', want '${want#*=}'"
done

# The other deployment models (docs/deployment.md): slaroute's jobs for an
# existing Prometheus, alone and pasted into an operator's config; the
# site-local Prometheus (its rules path pointed at rules/); the central
# Prometheus' federation job; the router pair's Alertmanager routing.
step "promtool check config: existing-Prometheus snippet, site-local and central models"
promtool check config deploy/prometheus/scrape_slaroute.yml deploy/prometheus/central_federate.yml
sed "s#/etc/prometheus/slaroute/\*\.yml#$PWD/rules/*.yml#" deploy/prometheus/site-local.yml >"$tmp/site-local.yml"
grep -qF "$PWD/rules/*.yml" "$tmp/site-local.yml" || fail "site-local.yml: rule_files is not /etc/prometheus/slaroute/*.yml"
promtool check config "$tmp/site-local.yml"
# An operator's existing prometheus.yml (scrape_configs last), with the
# snippet's jobs pasted under its scrape_configs and slaroute's rules added
# to its rule_files, as docs/deployment.md says.
printf '%s\n' 'global:' '  scrape_interval: 30s' 'rule_files:' "  - $PWD/rules/*.yml" 'scrape_configs:' \
	'  - job_name: node' '    static_configs:' "      - targets: ['127.0.0.1:9100']" >"$tmp/existing.yml"
sed '1,/^scrape_configs:/d' deploy/prometheus/scrape_slaroute.yml >>"$tmp/existing.yml"
promtool check config "$tmp/existing.yml"
jobs=$(grep -c '^  - job_name:' "$tmp/existing.yml")
[ "$jobs" = 4 ] || fail "existing config with the snippet pasted has $jobs jobs, want 4 (node + 3 of slaroute)"

step "amtool check-config deploy/alertmanager/router-pair.yml"
amtool check-config deploy/alertmanager/router-pair.yml
[ "$(grep -c 'password_file: .*route_actuator.password' deploy/alertmanager/router-pair.yml)" = 2 ] ||
	fail "router-pair.yml: want both webhook_configs with password_file route_actuator.password"

# Grafana provisioning lands in an existing Grafana: it must never take the
# default datasource from the one the operator has.
step "grafana provisioning never claims isDefault"
if grep -rnE '^[^#]*isDefault:[[:space:]]*(true|yes|on)' deploy/grafana; then
	fail "deploy/grafana sets isDefault: true"
fi
grep -q 'isDefault: false' deploy/grafana/provisioning/datasources/slaroute.yml ||
	fail "deploy/grafana/provisioning/datasources/slaroute.yml: want isDefault: false"

step "example configs: --config.check"
"$BIN/dns_sla_exporter" --config.check --config.file=deploy/examples/dns_sla_exporter.yml
"$BIN/route_actuator" --config.check --config.file=deploy/examples/route_actuator.yml
# The ios example names its key and known_hosts, which --config.check loads
# as start would: stand in files at those paths.
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ios_key"
echo "198.51.100.1 $(cut -d' ' -f1,2 "$tmp/ios_key.pub")" >"$tmp/ios_known_hosts"
sed -e "s|/run/credentials/route_actuator.service/ios_key|$tmp/ios_key|" -e "s|/etc/slaroute/ios_known_hosts|$tmp/ios_known_hosts|" \
	deploy/examples/route_actuator_ios.yml >"$tmp/route_actuator_ios.yml"
"$BIN/route_actuator" --config.check --config.file="$tmp/route_actuator_ios.yml"
"$BIN/route_actuator" --config.check --config.file=deploy/examples/route_actuator_bgp.yml

# The same webhook user and password must be in alertmanager.yml (username,
# password_file) and in web-config.yml (bcrypt hash): start the actuator with
# the example web config and authenticate the way Alertmanager does.
step "web-config.yml: the webhook credentials Alertmanager uses are accepted"
am_user=$(sed -n 's/^ *username: *//p' deploy/alertmanager/alertmanager.yml | head -1)
[ -n "$am_user" ] || fail "no basic_auth username in deploy/alertmanager/alertmanager.yml"
grep -q "password_file: .*route_actuator.password" deploy/alertmanager/alertmanager.yml ||
	fail "alertmanager.yml password_file does not name route_actuator.password"
port=$((20000 + RANDOM % 20000))
while ss -Hltn "sport = :$port" | grep -q .; do port=$((20000 + RANDOM % 20000)); done
"$BIN/route_actuator" --dry-run --config.file=deploy/examples/route_actuator.yml \
	--web.config.file=deploy/examples/web-config.yml --web.listen-address="127.0.0.1:$port" \
	>"$tmp/actuator.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port/metrics"
for _ in $(seq 50); do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
	[ "$code" != 000 ] && break
	sleep 0.1
done
[ "$code" = 401 ] || { cat "$tmp/actuator.log" >&2; fail "unauthenticated GET $url: want 401, got $code"; }
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$am_user:$(cat deploy/alertmanager/route_actuator.password)" "$url")
[ "$code" = 200 ] || { cat "$tmp/actuator.log" >&2; fail "GET $url as $am_user with route_actuator.password: want 200, got $code"; }
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$am_user:wrong" "$url")
[ "$code" = 401 ] || fail "GET $url with a wrong password: want 401, got $code"
echo "401 without credentials, 200 as $am_user, 401 with a wrong password"

# systemd-analyze verify needs the ExecStart binaries to exist: verify copies
# of the units that point at the built binaries. It exits 0 on unknown keys,
# so any output at all is a failure.
step "systemd-analyze verify deploy/systemd/*.service"
for u in deploy/systemd/*.service; do
	name=$(basename "$u" .service)
	grep -q "^ExecStart=/usr/local/bin/$name " "$u" || fail "$u: ExecStart is not /usr/local/bin/$name"
	sed "s#/usr/local/bin/$name#$BIN/$name#" "$u" >"$tmp/$name.service"
done
if ! out=$(systemd-analyze verify "$tmp"/*.service 2>&1) || [ -n "$out" ]; then
	echo "$out" >&2
	fail "systemd-analyze verify"
fi
grep -q '^AmbientCapabilities=CAP_NET_ADMIN$' deploy/systemd/route_actuator.service &&
	grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN$' deploy/systemd/route_actuator.service ||
	fail "route_actuator.service must get CAP_NET_ADMIN and nothing else"
for u in "$tmp"/*.service; do
	systemd-analyze security --offline=true --threshold=30 "$u" | tail -1
done

# The unit's privilege model for real: route_actuator.service's ExecStart
# (paths moved to a temp dir) as an unprivileged user with only the unit's
# AmbientCapabilities and NoNewPrivileges, in a network namespace made here,
# must install the route once the heartbeat arrives; without the capability
# it must not. Needs root for the namespace.
step "route_actuator.service: unprivileged user + its capabilities programs routes"
if [ "$(id -u)" != 0 ]; then
	[ "${CI:-}" = true ] && fail "not root (CI=true): cannot check the unit's privileges"
	echo "SKIP: not root"
else
	unit=deploy/systemd/route_actuator.service
	caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ \+/,+/g')
	[ "$caps" = net_admin ] || fail "$unit: AmbientCapabilities gives '$caps', want CAP_NET_ADMIN only"
	grep -q '^NoNewPrivileges=yes$' "$unit" || fail "$unit: NoNewPrivileges=yes missing"
	priv="$tmp/priv"
	mkdir -p "$priv" && chmod 0755 "$tmp" "$priv"
	# No Alertmanager in the namespace: drop alertmanager.url; restore at once.
	sed -e '/^alertmanager:/,/^[^ ]/{/^alertmanager:/d;/^ /d}' -e 's/restore_delay: .*/restore_delay: 200ms/' \
		deploy/examples/route_actuator.yml >"$priv/route_actuator.yml"
	cp deploy/examples/web-config.yml "$priv/"
	chmod 0644 "$priv"/*
	mkdir -p "$priv/state" && chown 65534:65534 "$priv/state" # the unit's StateDirectory
	read -r -a args <<<"$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ')"
	args=("${args[@]//\/usr\/local\/bin/$BIN}")
	args=("${args[@]//\/etc\/slaroute/$priv}")
	args=("${args[@]//\$\{STATE_DIRECTORY\}/$priv/state}")
	ns=slaroute-check-$$
	ip netns add "$ns" || fail "ip netns add $ns"
	nsdel() { ip netns del "$ns" 2>/dev/null || true; }
	trap 'cleanup; nsdel' EXIT
	ip -n "$ns" link set lo up
	ip -n "$ns" link add v0 type veth peer name v1
	ip -n "$ns" addr add 198.51.100.1/24 dev v0
	ip -n "$ns" link set v0 up
	ip -n "$ns" link set v1 up
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	heartbeat='{"version":"4","status":"firing","receiver":"route_actuator","groupKey":"{}:{alertname=\"DNSSLAWatchdog\"}","truncatedAlerts":0,"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093","alerts":[{"status":"firing","labels":{"alertname":"DNSSLAWatchdog","severity":"none"},"annotations":{},"startsAt":"'$now'","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"00000000000000aa"}]}'
	# run_actuator CAPS: start it as nobody with CAPS (setpriv syntax), post the heartbeat.
	run_actuator() {
		ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
			--inh-caps="-all$1" --ambient-caps="-all$1" --bounding-set="-all$1" -- "${args[@]}" >"$tmp/priv.log" 2>&1 &
		apid=$!
		pids+=("$apid")
		for _ in $(seq 50); do
			code=$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' -u "$am_user:$(cat deploy/alertmanager/route_actuator.password)" \
				-H 'Content-Type: application/json' --data "$heartbeat" http://127.0.0.1:9754/webhook || true)
			[ "$code" = 200 ] && return 0
			sleep 0.1
		done
		cat "$tmp/priv.log" >&2
		fail "webhook to route_actuator (${args[*]}) as nobody: HTTP $code"
	}
	route_via() { ip -n "$ns" route show 192.0.2.53/32 | grep -c 'nexthop via' || true; }

	run_actuator ""
	sleep 1
	[ "$(route_via)" = 0 ] || fail "as nobody without capabilities the route was installed: the unit's CAP_NET_ADMIN proves nothing"
	grep -qi "operation not permitted\|permission" "$tmp/priv.log" || { cat "$tmp/priv.log" >&2; fail "without capabilities: no permission error logged"; }
	kill "$apid"; wait "$apid" 2>/dev/null || true

	run_actuator ",+$caps"
	grep -E '^(Uid|CapEff|NoNewPrivs):' "/proc/$apid/status" | tr '\n\t' '  '
	echo
	for _ in $(seq 50); do [ "$(route_via)" = 3 ] && break; sleep 0.1; done
	[ "$(route_via)" = 3 ] || { cat "$tmp/priv.log" >&2; ip -n "$ns" route >&2; fail "as nobody with $caps: route 192.0.2.53/32 not installed via 3 nexthops"; }
	ip -n "$ns" route show 192.0.2.53/32
	kill "$apid"; wait "$apid" 2>/dev/null || true
	echo "as nobody: with CAP_NET_ADMIN the route is installed; without it, EPERM and no route"

	# dns_sla_exporter.service's ExecStart as nobody without capabilities,
	# probing the example's targets moved to the namespace's loopback.
	unit=deploy/systemd/dns_sla_exporter.service
	grep -q '^CapabilityBoundingSet=$' "$unit" || fail "$unit: want an empty CapabilityBoundingSet"
	sed 's/^\( *\(- \)\{0,1\}address:\).*/\1 127.0.0.11/' deploy/examples/dns_sla_exporter.yml >"$priv/dns_sla_exporter.yml"
	chmod 0644 "$priv/dns_sla_exporter.yml"
	read -r -a eargs <<<"$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ')"
	eargs=("${eargs[@]//\/usr\/local\/bin/$BIN}")
	eargs=("${eargs[@]//\/etc\/slaroute/$priv}")
	ip netns exec "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
		--inh-caps=-all --ambient-caps=-all --bounding-set=-all -- "${eargs[@]}" >"$tmp/exporter.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		n=$(ip netns exec "$ns" curl -s http://127.0.0.1:9753/metrics | grep -c '^dns_sla_probes_total{' || true)
		[ "$n" -gt 0 ] && break
		sleep 0.1
	done
	[ "$n" -gt 0 ] || { cat "$tmp/exporter.log" >&2; fail "dns_sla_exporter (${eargs[*]}) as nobody: no dns_sla_probes_total on /metrics"; }
	echo "as nobody without capabilities: dns_sla_exporter serves $n dns_sla_probes_total series"
fi

echo "check.sh: all deployment files OK"
