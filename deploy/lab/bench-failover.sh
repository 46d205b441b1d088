#!/usr/bin/env bash
# make bench-failover: failover times through the real chain in the namespace
# lab (see README, "Performance"). Prints per-trial lines, then the table.
# Usage: deploy/lab/bench-failover.sh [--trials N] [--rate Q] [--mode stop --mode silent ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
	echo "bench-failover: run as root (network namespaces)" >&2
	exit 1
fi
./.ci/install-deps.sh
export PATH=$PATH:/usr/local/go/bin
make --no-print-directory build >/dev/null
go build -o bin/labctl ./deploy/lab/cmd/labctl
bin/labctl down
exec timeout --foreground -s INT 14m bin/labctl --bin "$PWD/bin" bench "$@"
