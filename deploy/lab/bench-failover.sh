#!/usr/bin/env bash
# make bench-failover: failover times through the real chain in the namespace
# lab (see docs/performance.md). Prints per-trial lines, then the tables.
# Usage: deploy/lab/bench-failover.sh [--trials N] [--rate Q] [--mode stop --mode silent ...] [--verbose]
source "$(dirname "$0")/prepare.sh"
# labctl bounds its trials to 10 minutes; SIGINT makes it tear the lab down.
exec timeout --foreground -s INT 14m bin/labctl --bin "$PWD/bin" bench "$@"
