# Sourced by demo.sh and bench-failover.sh: checks root, installs what a fresh
# Debian lacks, builds the binaries and labctl, removes labs of killed runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ "$(id -u)" != 0 ]; then
	echo "$(basename "$0"): run as root (the lab creates network namespaces)" >&2
	exit 1
fi
./.ci/install-deps.sh
export PATH=$PATH:/usr/local/go/bin
make --no-print-directory build >/dev/null
go build -o bin/labctl ./deploy/lab/cmd/labctl
bin/labctl down
