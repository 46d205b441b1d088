#!/usr/bin/env bash
# make demo: the whole slaroute chain in network namespaces (see docs/lab.md).
# Usage: deploy/lab/demo.sh [--once]     (as root; installs missing Debian packages)
source "$(dirname "$0")/prepare.sh"
exec bin/labctl --bin "$PWD/bin" demo "$@"
