#!/usr/bin/env bash
# make bench-alertmanager: Alertmanager's CPU under the shipped
# deploy/alertmanager/alertmanager.yml while N route-driving alerts fire at
# once (a mass outage), re-sent every second as Prometheus sends them; one
# row per size and group_interval of the route_actuator route (see main.go).
# Bounded: SIZES x GROUP_INTERVALS x (~1 s start + WARMUP + WINDOW), about
# 4 minutes by default, killed after 5.
# Env: SIZES="50 500 5000", GROUP_INTERVALS="shipped 100ms", WARMUP=8s,
# WINDOW=0 (the route's repeat_interval, 30s: one re-send of every alert).
set -euo pipefail
cd "$(dirname "$0")/../../.."
am=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}
[ -x "$am" ] || { echo "bench-alertmanager: $am missing (apt-get install prometheus-alertmanager)" >&2; exit 1; }
go build -o bin/bench-alertmanager ./deploy/bench/alertmanager
exec timeout --foreground "${TIMEOUT:-5m}" bin/bench-alertmanager -alertmanager "$am" \
	-sizes "${SIZES:-50 500 5000}" -group-intervals "${GROUP_INTERVALS:-shipped 100ms}" \
	-warmup "${WARMUP:-8s}" -window "${WINDOW:-0}"
