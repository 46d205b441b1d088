package webhook

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// checkFast fails when fastDecode accepts b but encoding/json rejects it or
// decodes something else; it reports whether the fast path was taken.
func checkFast(t *testing.T, b []byte) bool {
	t.Helper()
	var fast, ref payload
	ok := fastDecode(b, &fast)
	err := json.Unmarshal(b, &ref)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("fastDecode accepted what encoding/json rejects (%v): %q", err, b)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("fastDecode differs from encoding/json for %q:\nfast %+v\njson %+v", b, fast, ref)
	}
	return true
}

// benchPayload is a 100-alert webhook as Alertmanager marshals it.
func benchPayload(tb testing.TB) []byte {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 123456789, time.UTC)
	alerts := template.Alerts{{Status: "firing", Labels: template.KV{"alertname": "DNSSLAWatchdog", "severity": "none"},
		Annotations: template.KV{}, StartsAt: t0, Fingerprint: "ffffffffffffffff"}}
	for i := range 33 {
		svc := fmt.Sprintf("192.0.2.%d/32", i+1)
		for _, nh := range []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"} {
			alerts = append(alerts, template.Alert{Status: "resolved",
				Labels:      template.KV{"alertname": "DNSServerDown", "nexthop": nh, "service": svc, "severity": "critical"},
				Annotations: template.KV{"summary": "DNS server " + nh + " fails its SLA for " + svc + " (p99 > 200ms & more)"},
				StartsAt:    t0, EndsAt: t0.Add(time.Second), GeneratorURL: "http://prometheus:9090/graph?g0.expr=x&g0.tab=1",
				Fingerprint: fmt.Sprintf("%016x", i)})
		}
	}
	b, err := json.Marshal(payload{Data: template.Data{Receiver: "route_actuator", Status: "firing", Alerts: alerts,
		GroupLabels: template.KV{}, CommonLabels: template.KV{"alertname": "DNSServerDown"}, CommonAnnotations: template.KV{},
		ExternalURL: "http://127.0.0.1:9093"}, Version: "4", GroupKey: `{}:{alertname=~"DNS.*"}`})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// The fast path knows every field of the payload: a new one in a newer
// alertmanager module must be added to it (until then it would be rejected
// by the fast path and decoded by encoding/json only).
func TestFastDecodeKnowsEveryField(t *testing.T) {
	names := func(rt reflect.Type) []string {
		var out []string
		var walk func(reflect.Type)
		walk = func(rt reflect.Type) {
			for f := range rt.Fields() {
				switch {
				case f.Anonymous:
					walk(f.Type)
				case f.IsExported():
					name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
					out = append(out, name)
				}
			}
		}
		walk(rt)
		slices.Sort(out)
		return out
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	if got, want := sorted(payloadKeys), names(reflect.TypeFor[payload]()); !slices.Equal(got, want) {
		t.Errorf("payload keys %v, want %v", got, want)
	}
	if got, want := sorted(alertKeys), names(reflect.TypeFor[template.Alert]()); !slices.Equal(got, want) {
		t.Errorf("alert keys %v, want %v", got, want)
	}
}

func TestFastDecodeMatchesJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	inputs := map[string]string{"bench": string(benchPayload(t))}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = string(b)
	}
	alert := func(s string) string {
		return `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-01-01T12:00:00Z"` + s + `}]}`
	}
	for name, tc := range map[string]struct {
		in   string
		fast bool
	}{
		"minimal":                  {`{"version":"4","alerts":[]}`, true},
		"whitespace":               {" \t\n{ \"version\" : \"4\" , \"alerts\" : [ ] }\r\n", true},
		"empty object":             {`{}`, true},
		"empty maps stay non-nil":  {`{"version":"4","groupLabels":{},"alerts":[{"labels":{},"annotations":{}}]}`, true},
		"escapes":                  {alert(`,"annotations":{"s":"a\"b\\c\/d\b\f\n\r\t\u003e\u0026\u00e9\ud83d\ude00"}`), true},
		"escaped key":              {`{"vers\u0069on":"4"}`, true},
		"utf-8":                    {alert(`,"annotations":{"s":"héllo ✓ 😀"}`), true},
		"offset time":              {alert(`,"endsAt":"2026-01-01T13:00:00.5+01:00"`), true},
		"truncated alerts":         {`{"version":"4","truncatedAlerts":12}`, true},
		"route labels and reason":  {`{"version":"4","routeLabels":{"a":"b"},"notification_reason":"x"}`, true},
		"duplicate map key":        {alert(`,"annotations":{"a":"1","a":"2"}`), true},
		"lone surrogate":           {alert(`,"annotations":{"s":"\ud83d"}`), false},
		"reversed surrogates":      {alert(`,"annotations":{"s":"\ude00\ud83d"}`), false},
		"invalid utf-8":            {alert(`,"annotations":{"s":"a` + "\xff" + `"}`), false},
		"control character":        {alert(`,"annotations":{"s":"a` + "\n" + `"}`), false},
		"bad escape":               {alert(`,"annotations":{"s":"\x41"}`), false},
		"null fields":              {`{"version":"4","receiver":null,"routeLabels":null,"truncatedAlerts":null,"alerts":null}`, true},
		"null alert fields":        {alert(`,"annotations":null,"endsAt":null,"generatorURL":null`), true},
		"nul":                      {alert(`,"annotations":nul}`), false},
		"null label value":         {alert(`,"annotations":{"a":null}`), false},
		"number label value":       {alert(`,"annotations":{"a":1}`), false},
		"case-folded key":          {`{"Version":"4"}`, false},
		"unknown key":              {`{"version":"4","extra":1}`, false},
		"duplicate field":          {`{"version":"3","version":"4"}`, false},
		"duplicate labels":         {alert(`,"labels":{"b":"c"}`), false},
		"bad time":                 {alert(`,"endsAt":"yesterday"`), false},
		"escaped time":             {alert(`,"endsAt":"2026-01-01T13:00:00\u005a"`), false},
		"negative truncated":       {`{"truncatedAlerts":-1}`, false},
		"fractional truncated":     {`{"truncatedAlerts":1.0}`, false},
		"exponent truncated":       {`{"truncatedAlerts":1e2}`, false},
		"leading zero":             {`{"truncatedAlerts":01}`, false},
		"overflowing truncated":    {`{"truncatedAlerts":18446744073709551616}`, false},
		"version not a string":     {`{"version":4}`, false},
		"trailing garbage":         {`{"version":"4"}x`, false},
		"two values":               {`{"version":"4"}{}`, false},
		"trailing comma":           {`{"version":"4",}`, false},
		"missing colon":            {`{"version" "4"}`, false},
		"truncated body":           {`{"version":"4","alerts":[{"status":"firing"`, false},
		"unterminated string":      {`{"version":"4`, false},
		"array top level":          {`[]`, false},
		"null top level":           {`null`, false},
		"empty body":               {``, false},
		"null alert":               {`{"alerts":[null]}`, false},
		"alerts not an array":      {`{"alerts":{}}`, false},
		"trailing comma in alerts": {`{"alerts":[{},]}`, false},
	} {
		inputs[name] = tc.in
		t.Run(name, func(t *testing.T) {
			if got := checkFast(t, []byte(tc.in)); got != tc.fast {
				t.Errorf("fast path taken = %v, want %v", got, tc.fast)
			}
		})
	}
	for name, in := range inputs {
		if name == "bench" || strings.HasPrefix(name, "testdata/") {
			t.Run(name, func(t *testing.T) {
				if !checkFast(t, []byte(in)) && name != "testdata/bad-json.json" && name != "testdata/bad-time.json" {
					t.Errorf("fixture not decoded by the fast path")
				}
			})
		}
	}
}

// FuzzFastDecode: whatever the fast path accepts, encoding/json decodes to the same.
func FuzzFastDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(benchPayload(f)[:2000])
	f.Add([]byte(`{"version":"4","alerts":[{"annotations":{"s":"\u00e9\ud83d\ude00\"\\"}}],"truncatedAlerts":3}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkFast(t, b) })
}

// BenchmarkDecode100 compares decoding a 100-alert payload.
func BenchmarkDecode100(b *testing.B) {
	body := benchPayload(b)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var p payload
			if !fastDecode(body, &p) {
				b.Fatal("fast path refused")
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var p payload
			if err := json.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
