//go:build linux

package lab

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func TestParseLogs(t *testing.T) {
	in := strings.Join([]string{
		// The exporter's log is not read (its probe failures come from metrics).
		`{"time":"2026-11-27T16:13:04.660598521Z","level":"DEBUG","msg":"Probe failed","target":"dns2","result":"network_error"}`,
		`{"alert":"DNSServerDown[4a96503][active]","component":"dispatcher","level":"debug","msg":"Received alert","ts":"2026-11-27T16:13:05.100Z"}`,
		`{"alert":"DNSSLAWatchdog[d75e058][active]","msg":"Received alert","ts":"2026-11-27T16:13:05.101Z"}`,
		`{"aggrGroup":"{}/{}:{alertname=\"DNSServerDown\", nexthop=\"198.51.100.12\", target=\"dns2\"}","alerts":"[DNSServerDown[4a96503][active]]","msg":"flushing","ts":"2026-11-27T16:13:05.102Z"}`,
		`{"time":"2026-11-27T16:13:05.110Z","level":"INFO","msg":"Route changed","action":"update","added":null,"removed":["198.51.100.12"]}`,
		`not json`,
	}, "\n")
	ev, err := ParseLogs(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind+":"+e.Target+":"+e.FP+":"+e.State)
	}
	want := "am_received::4a96503:active,am_flush:dns2:4a96503:active,route_changed:::"
	if got := strings.Join(kinds, ","); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	rc, ok := First(ev, time.Date(2026, 11, 27, 16, 13, 5, 0, time.UTC), func(e LogEvent) bool { return e.Kind == "route_changed" })
	if !ok || len(rc.Remove) != 1 || rc.Remove[0] != "198.51.100.12" {
		t.Fatalf("First route_changed = %+v %v", rc, ok)
	}
}

func TestParseProbeCounts(t *testing.T) {
	in := `# TYPE dns_sla_probes_total counter
dns_sla_probes_total{nexthop="198.51.100.11",result="success",service="dns",target="dns1"} 40
dns_sla_probes_total{nexthop="198.51.100.11",result="timeout",service="dns",target="dns1"} 0
dns_sla_probes_total{nexthop="198.51.100.12",result="success",service="dns",target="dns2"} 38
dns_sla_probes_total{nexthop="198.51.100.12",result="timeout",service="dns",target="dns2"} 2
dns_sla_probes_total{nexthop="198.51.100.12",result="network_error",service="dns",target="dns2"} 1
# TYPE dns_sla_up gauge
dns_sla_up{nexthop="198.51.100.12",service="dns",target="dns2"} 0
`
	got, err := parseProbeCounts([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]probeCount{"dns1": {ok: 40}, "dns2": {ok: 38, failed: 3}}
	if !maps.Equal(got, want) {
		t.Fatalf("probe counts = %v, want %v", got, want)
	}
}
