#!/usr/bin/env bash
# make bench-actuator: webhook-to-kernel latency and webhook throughput of the
# built route_actuator with the netlink backend, inside network namespaces this
# script creates (and removes, also on failure). Traffic stays on the
# namespace's 127.0.0.1 and 198.51.100.0/24; nothing touches the host's tables.
#   MODES="resilient multipath" WITHDRAWS=200 DURATION=5s CONCURRENCY=4
set -euo pipefail
cd "$(dirname "$0")/../../.."
[ "$(id -u)" = 0 ] || { echo "bench-actuator: needs root (network namespaces)" >&2; exit 1; }
BIN=${SLAROUTE_BIN:-$PWD/bin}/route_actuator
[ -x "$BIN" ] || { echo "bench-actuator: $BIN missing: run make build" >&2; exit 1; }
MODES=${MODES:-resilient multipath}
SERVICES=33 # 33 routes x 3 nexthops = 99 DNSServerDown alerts + the heartbeat = 100
tmp=$(mktemp -d)
rtr=slbench-$$ srv=slbench-$$-s pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	ip netns del "$rtr" 2>/dev/null || true
	ip netns del "$srv" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/loadgen" ./deploy/bench/netlink/loadgen

ip netns add "$rtr"
ip netns add "$srv"
ip -n "$rtr" link set lo up
ip -n "$rtr" link add veth0 type veth peer name veth1 netns "$srv"
ip -n "$rtr" address add 198.51.100.1/24 dev veth0
ip -n "$rtr" link set veth0 up
ip -n "$srv" link set lo up
for a in 11 12 13; do ip -n "$srv" address add 198.51.100.$a/24 dev veth1; done
ip -n "$srv" link set veth1 up

echo "route_actuator $("$BIN" --version 2>&1 | head -1 | awk '{print $3}'), $(nproc) CPUs, kernel $(uname -r)"
echo "latency method: loadgen in the router namespace timestamps just before writing the"
echo "webhook request and when its netlink socket (RTNLGRP_NEXTHOP, RTNLGRP_IPV4_ROUTE)"
echo "receives the kernel's notification of the changed group (resilient) or route (multipath)"
for mode in $MODES; do
	cfg=$tmp/route_actuator-$mode.yml
	{
		printf 'backend:\n  type: netlink\n  netlink:\n    mode: %s\nroutes:\n' "$mode"
		printf '  - prefix: 192.0.2.53/32\n    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]\n'
		for i in $(seq 1 $((SERVICES - 1))); do
			printf '  - prefix: 192.0.2.%d/32\n    nexthops: [198.51.100.11, 198.51.100.12, 198.51.100.13]\n' "$i"
		done
		printf 'alerts:\n  heartbeat: DNSSLAWatchdog\n  restore_delay: 0s\nresync_interval: 10s\n'
	} >"$cfg"
	ip netns exec "$rtr" "$BIN" --config.file="$cfg" --log.level=warn >"$tmp/actuator-$mode.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		if ip netns exec "$rtr" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9754' 2>/dev/null; then break; fi
		sleep 0.1
	done
	echo "--- $mode"
	if ! ip netns exec "$rtr" "$tmp/loadgen" -mode "$mode" -services "$SERVICES" \
		-withdraws "${WITHDRAWS:-200}" -duration "${DURATION:-5s}" -concurrency "${CONCURRENCY:-4}"; then
		echo "bench-actuator: loadgen failed; route_actuator log:" >&2
		tail -20 "$tmp/actuator-$mode.log" >&2
		exit 1
	fi
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	# Routes of the run stay in the namespace; the next mode converts them.
done
