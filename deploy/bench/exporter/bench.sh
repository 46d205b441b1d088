#!/usr/bin/env bash
# Benchmark of dns_sla_exporter against loopback dnsmasq, with
# blackbox_exporter's DNS probe measured in the same run for comparison.
# Prints CPU microseconds per probe (utime+stime from /proc/PID/stat over a
# measured window), scheduling lag p50/p99 (dns_sla_scheduling_lag_seconds,
# interpolated within buckets) and RSS. Bounded to about 2 minutes.
# Env: SIZES="100 1000 5000", WINDOW=15 (s, like a 15 s scrape interval),
# WARMUP=3 (s), SERVERS=4 (dnsmasq instances), BB_REQUESTS=3000, BIN=bin.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-bin}
SIZES=${SIZES:-100 1000 5000}
WINDOW=${WINDOW:-15}
WARMUP=${WARMUP:-3}
SERVERS=${SERVERS:-4}
exe=$BIN/dns_sla_exporter
[ -x "$exe" ] || { echo "bench: $exe missing: run make build" >&2; exit 1; }
command -v dnsmasq >/dev/null || { echo "bench: dnsmasq missing (apt-get install dnsmasq-base)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# a port no socket uses for TCP or UDP (ss from iproute2)
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		[ -z "$(ss -Htuan "sport = :$p")" ] && { echo "$p"; return; }
	done
}
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# DNS servers: SERVERS dnsmasq instances on 127.0.200.x, one port.
dport=$(free_port)
for i in $(seq 1 "$SERVERS"); do
	dnsmasq --no-daemon --conf-file=/dev/null --no-hosts --no-resolv --bind-interfaces \
		--listen-address=127.0.200.$i --port="$dport" --pid-file= --local=/example.test/ \
		--host-record=health.example.test,192.0.2.1 --cache-size=0 --log-facility=/dev/null 2>/dev/null &
	pids+=($!)
done
sleep 0.5

now() { date +%s.%N; }
# sums a scrape file: "probes successes"
probes_in() { awk '/^dns_sla_probes_total\{/ {s+=$NF; if ($0 ~ /result="success"/) ok+=$NF} END {printf "%d %d\n", s, ok}' "$1"; }
lag_in() { awk '/^dns_sla_scheduling_lag_seconds_bucket/ {match($0, /le="[^"]*"/); print substr($0, RSTART+4, RLENGTH-5), $NF}' "$1"; }
# quantile q from two bucket dumps (before, after): linear interpolation in the bucket.
quantile() {
	awk -v q="$1" 'NR==FNR {b[$1]=$2; next} {le[++n]=$1; c[n]=$2-b[$1]} END {
		total=c[n]; if (total<=0) {print "n/a"; exit}
		rank=q*total; prev=0; prevc=0
		for (i=1;i<=n;i++) { if (c[i]>=rank) { up=(le[i]=="+Inf")?prev:le[i]+0;
			v=prev+(up-prev)*((rank-prevc)/((c[i]-prevc)>0?(c[i]-prevc):1)); printf "%.3f", v*1000; exit }
			prev=le[i]+0; prevc=c[i] } }' "$2" "$3"
}
calc() { awk "BEGIN { $1 }"; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; window ${WINDOW}s, one scrape per window"
fmt='%-18s %7s %8s %9s %8s %8s %7s %8s %9s %9s %8s\n'
printf "$fmt" program targets probes/s cpu_us/pr lag_p50 lag_p99 rss_MB peak_MB scrape_ms scrape_cpu success
printf "$fmt" "" "" "" "" ms ms "" "" "" ms ""
for n in $SIZES; do
	cfg=$tmp/exporter-$n.yml
	{
		printf 'defaults:\n  interval: 1s\n  timeout: 500ms\n  query_name: health.example.test.\ntargets:\n'
		for i in $(seq 1 "$n"); do
			printf '  - name: t%d\n    address: 127.0.200.%d:%d\n' "$i" $(( (i % SERVERS) + 1 )) "$dport"
		done
	} >"$cfg"
	wport=$(free_port)
	"$exe" --config.file="$cfg" --web.listen-address=127.0.0.1:"$wport" --log.level=warn &
	epid=$!
	pids+=("$epid")
	url=http://127.0.0.1:$wport/metrics
	for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$wport/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
	sleep "$WARMUP"
	# Window: from the end of one scrape to the start of the next, so the
	# probe CPU excludes scrapes; the next scrape is measured on its own.
	ts0=$(now); curl -fsS "$url" >"$tmp/s0"
	c0=$(cpu_ticks "$epid"); t0=$(now)
	sleep "$WINDOW"
	c1=$(cpu_ticks "$epid"); t1=$(now); rss=$(rss_mb "$epid")
	curl -fsS "$url" >"$tmp/s1"
	c2=$(cpu_ticks "$epid"); t2=$(now)
	peak=$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$epid/status")
	read -r p0 s0 < <(probes_in "$tmp/s0")
	read -r p1 s1 < <(probes_in "$tmp/s1")
	lag_in "$tmp/s0" >"$tmp/lag0"; lag_in "$tmp/s1" >"$tmp/lag1"
	rate=$(calc "printf \"%.1f\", ($p1-$p0)/($t1-$ts0)")
	cpu_us=$(calc "r=$rate*($t1-$t0); if (r>0) printf \"%.1f\", ($c1-$c0)*1e6/$hz/r; else print \"n/a\"")
	printf "$fmt" dns_sla_exporter "$n" "$(calc "printf \"%.0f\", $rate")" "$cpu_us" \
		"$(quantile 0.5 "$tmp/lag0" "$tmp/lag1")" "$(quantile 0.99 "$tmp/lag0" "$tmp/lag1")" "$rss" "$peak" \
		"$(calc "printf \"%.0f\", ($t2-$t1)*1000")" "$(calc "printf \"%.0f\", ($c2-$c1)*1000/$hz")" \
		"$(calc "if ($p1>$p0) printf \"%.1f%%\", 100*($s1-$s0)/($p1-$p0); else print \"n/a\"")"
	kill "$epid"; wait "$epid" 2>/dev/null || true
done

# blackbox_exporter: one DNS probe per HTTP request to /probe, driven by one
# curl process over keep-alive connections; only blackbox's CPU is counted.
bb=$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter || true)
if [ -z "$bb" ]; then
	echo "blackbox_exporter not installed: skipped (apt-get install prometheus-blackbox-exporter)"
	exit 0
fi
cat >"$tmp/blackbox.yml" <<YAML
modules:
  dns:
    prober: dns
    timeout: 1s
    dns:
      query_name: health.example.test
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
      valid_rcodes: [NOERROR]
YAML
bport=$(free_port)
"$bb" --config.file="$tmp/blackbox.yml" --web.listen-address=127.0.0.1:"$bport" --log.level=warn >/dev/null 2>&1 &
bpid=$!
pids+=("$bpid")
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$bport/-/healthy" >/dev/null 2>&1 && break; sleep 0.1; done
reqs=${BB_REQUESTS:-3000}
for i in $(seq 1 "$reqs"); do
	printf 'url = "http://127.0.0.1:%d/probe?module=dns&target=127.0.200.%d:%d"\noutput = "/dev/null"\n' "$bport" $(( (i % SERVERS) + 1 )) "$dport"
done >"$tmp/curl.cfg"
c0=$(cpu_ticks "$bpid"); t0=$(now)
curl -s --no-progress-meter --parallel --parallel-max 4 -K "$tmp/curl.cfg" 2>/dev/null
c1=$(cpu_ticks "$bpid"); t1=$(now)
ok=$(curl -fsS "http://127.0.0.1:$bport/probe?module=dns&target=127.0.200.1:$dport" | awk '/^probe_success/ {print $2}')
printf "$fmt" blackbox_exporter "-" "$(calc "printf \"%.0f\", $reqs/($t1-$t0)")" \
	"$(calc "printf \"%.1f\", ($c1-$c0)*1e6/$hz/$reqs")" - - "$(rss_mb "$bpid")" - - - "$([ "$ok" = 1 ] && echo ok || echo FAIL)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
