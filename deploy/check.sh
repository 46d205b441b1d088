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

for tool in promtool amtool systemd-analyze curl ss; do
	command -v "$tool" >/dev/null || fail "$tool not found (run make deps)"
done
for b in dns_sla_exporter route_actuator; do
	[ -x "$BIN/$b" ] || fail "$BIN/$b missing: run make build"
done
for f in deploy/examples/dns_sla_exporter.yml deploy/examples/route_actuator.yml deploy/examples/web-config.yml \
	deploy/alertmanager/route_actuator.password deploy/prometheus/prometheus.yml deploy/alertmanager/alertmanager.yml; do
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

step "amtool check-config deploy/alertmanager/alertmanager.yml"
amtool check-config deploy/alertmanager/alertmanager.yml

step "example configs: --config.check"
"$BIN/dns_sla_exporter" --config.check --config.file=deploy/examples/dns_sla_exporter.yml
"$BIN/route_actuator" --config.check --config.file=deploy/examples/route_actuator.yml

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

echo "check.sh: all deployment files OK"
