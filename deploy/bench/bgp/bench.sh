#!/usr/bin/env bash
# make bench-bgp: BGP backend change latency (Set -> the router's kernel
# route) against FRR's bgpd in network namespaces (needs root, frr).
# Prints p50/p90/p99/max.
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ "$(id -u)" != 0 ]; then
	echo "bench-bgp: needs root (network namespaces, FRR)" >&2
	exit 1
fi
exec go run ./deploy/bench/bgp -trials "${TRIALS:-50}" "$@"
