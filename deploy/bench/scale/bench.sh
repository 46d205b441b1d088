#!/usr/bin/env bash
# make bench-scale [BASELINE=<dir>|<git rev>|none]: Prometheus' cost of the
# shipped alert path for 500 / 2,000 / 5,000 targets, the baseline's
# configuration and the working tree's side by side in one run, the latter
# also right after a blip that fails every target once (see main.go for the
# fake targets). The default baseline is deploy/bench/scale/baseline: the
# configuration shipped before the verdict job (1 s scrape of every series,
# 10m/2m range reads at 250 ms), kept as a fixture.
# Bounded: SIZES x configs x (WARMUP + WINDOW), about 8 minutes by default.
# Env: SIZES="500 2000 5000", WARMUP=15s, WINDOW=30s, RULES=1 (per-rule times).
# WINDOW is a multiple of the 15s job's interval: a 20s window held its work
# once or twice, and the measured CPU moved by 2x between runs.
# BLIP_AGES="5m 16m" also measures the blip configuration that long after the
# blip, in the same Prometheus: how long a blip costs (bounded by 45 minutes).
# Example: SIZES=5000 BASELINE=none BLIP_AGES="5m 12m 16m" make bench-scale
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v prometheus >/dev/null || { echo "bench-scale: prometheus missing (apt-get install prometheus)" >&2; exit 1; }
go build -o bin/bench-scale ./deploy/bench/scale
baseline=${BASELINE:-deploy/bench/scale/baseline}
[ "$baseline" = none ] && baseline=
limit=15m
[ -n "${BLIP_AGES:-}" ] && limit=45m
exec timeout --foreground $limit bin/bench-scale -baseline "$baseline" -sizes "${SIZES:-500 2000 5000}" \
	-warmup "${WARMUP:-15s}" -window "${WINDOW:-30s}" -blip-ages "${BLIP_AGES:-}"
