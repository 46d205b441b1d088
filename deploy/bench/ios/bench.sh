#!/usr/bin/env bash
# make bench-ios: IOS backend latency against a real FRR + OpenSSH peer in
# network namespaces (needs root, frr, openssh-server). Prints p50/p90/max.
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ "$(id -u)" != 0 ]; then
	echo "bench-ios: needs root (network namespaces, FRR, sshd)" >&2
	exit 1
fi
exec go run ./deploy/bench/ios -trials "${TRIALS:-30}" "$@"
