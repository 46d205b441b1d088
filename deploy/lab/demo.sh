#!/usr/bin/env bash
# make demo: the whole slaroute chain in network namespaces (see README, "The lab").
# Usage: deploy/lab/demo.sh [--once]     (as root; installs missing Debian packages)
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it creates network namespaces and installs packages)" >&2
	exit 1
fi
./.ci/install-deps.sh
export PATH=$PATH:/usr/local/go/bin
make --no-print-directory build >/dev/null
go build -o bin/labctl ./deploy/lab/cmd/labctl
# Labs left behind by killed runs (their owner PID is gone) go first.
bin/labctl down
exec bin/labctl --bin "$PWD/bin" demo "$@"
