#!/usr/bin/env bash
# make bench-scale [BASELINE=<git rev>]: Prometheus' cost of the shipped alert
# path for 500 / 2,000 / 5,000 targets, the baseline's configuration and the
# working tree's side by side in one run (see main.go for the fake targets).
# Bounded: SIZES x configs x (WARMUP + WINDOW), about 4 minutes by default.
# Env: SIZES="500 2000 5000", WARMUP=15s, WINDOW=20s, RULES=1 (per-rule times).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v prometheus >/dev/null || { echo "bench-scale: prometheus missing (apt-get install prometheus)" >&2; exit 1; }
go build -o bin/bench-scale ./deploy/bench/scale
exec timeout --foreground 15m bin/bench-scale -baseline "${BASELINE:-}" -sizes "${SIZES:-500 2000 5000}" \
	-warmup "${WARMUP:-15s}" -window "${WINDOW:-20s}"
