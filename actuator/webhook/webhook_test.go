package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/route"
)

type recorder struct {
	calls  int
	events []alertstate.Event
	err    error
}

func (r *recorder) Ingest(_ context.Context, events []alertstate.Event) error {
	r.calls++
	r.events = append(r.events, events...)
	return r.err
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures are the bodies of every fixture in testdata/.
func fixtures(t testing.TB) [][]byte {
	t.Helper()
	paths, _ := filepath.Glob("testdata/*.json")
	var bodies [][]byte
	for _, p := range paths {
		bodies = append(bodies, fixture(t, filepath.Base(p)))
	}
	return bodies
}

func TestHandler(t *testing.T) {
	unavailable := fmt.Errorf("apply: %w: %w", route.ErrUnavailable, errors.New("ssh session down"))
	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        []byte
		ingestErr   error
		code        int
		statuses    []alertstate.Status // events handed to the ingester; nil: not called
		bodyHas     string
	}{
		{name: "withdraw", body: fixture(t, "withdraw.json"), code: 200, statuses: []alertstate.Status{alertstate.Firing}},
		{name: "resolve", body: fixture(t, "resolve.json"), code: 200, statuses: []alertstate.Status{alertstate.Resolved}},
		{name: "mixed group: each alert's own status", body: fixture(t, "mixed-group.json"), code: 200,
			statuses: []alertstate.Status{alertstate.Firing, alertstate.Resolved}},
		{name: "content type with charset", contentType: "application/json; charset=utf-8", body: fixture(t, "heartbeat.json"), code: 200,
			statuses: []alertstate.Status{alertstate.Firing}},
		{name: "wrong method", method: http.MethodGet, code: 405},
		{name: "wrong content type", contentType: "text/plain", body: fixture(t, "withdraw.json"), code: 415},
		{name: "bad JSON", body: fixture(t, "bad-json.json"), code: 400, bodyHas: "invalid JSON payload"},
		{name: "bad version", body: fixture(t, "bad-version.json"), code: 400, bodyHas: `unsupported payload version "3", want "4"`},
		// An absent or empty version is not "4" (issue 16: treating it like 4 passed every test).
		{name: "no version", body: fixture(t, "no-version.json"), code: 400, bodyHas: `unsupported payload version "", want "4"`},
		{name: "empty version", body: fixture(t, "empty-version.json"), code: 400, bodyHas: `unsupported payload version "", want "4"`},
		{name: "numeric version", body: fixture(t, "numeric-version.json"), code: 400, bodyHas: "invalid JSON payload"},
		{name: "no alerts", body: []byte(`{"version":"4"}`), code: 400, bodyHas: "payload without alerts"},
		{name: "bad status", body: fixture(t, "bad-status.json"), code: 400, bodyHas: `alert 1: status "pending" is neither firing nor resolved`},
		{name: "bad time", body: fixture(t, "bad-time.json"), code: 400, bodyHas: "invalid JSON payload"},
		{name: "too large", body: append(fixture(t, "withdraw.json"), bytes.Repeat([]byte(" "), 2048)...), code: 413},
		{name: "backend unavailable: retry", body: fixture(t, "withdraw.json"), ingestErr: unavailable, code: 503,
			statuses: []alertstate.Status{alertstate.Firing}},
		{name: "other backend error: retry cannot help", body: fixture(t, "withdraw.json"), ingestErr: errors.New("kernel said EINVAL"), code: 200,
			statuses: []alertstate.Status{alertstate.Firing}, bodyHas: "accepted with errors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			rec := &recorder{err: tc.ingestErr}
			h := &Handler{Ingester: rec, Metrics: NewMetrics(reg), Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 2048}
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/webhook", bytes.NewReader(tc.body))
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.code {
				t.Errorf("code %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tc.code)
			}
			if tc.bodyHas != "" && !strings.Contains(w.Body.String(), tc.bodyHas) {
				t.Errorf("body %q does not contain %q", w.Body.String(), tc.bodyHas)
			}
			if tc.statuses == nil {
				if rec.calls != 0 {
					t.Errorf("ingester called %d times on bad input", rec.calls)
				}
			} else {
				if rec.calls != 1 || len(rec.events) != len(tc.statuses) {
					t.Fatalf("ingester calls %d events %d, want 1 call with %d events", rec.calls, len(rec.events), len(tc.statuses))
				}
				for i, st := range tc.statuses {
					if rec.events[i].Status != st || rec.events[i].Fingerprint == "" {
						t.Errorf("event %d: %+v, want status %s", i, rec.events[i], st)
					}
				}
			}
			if got := testutil.ToFloat64(h.Metrics.requests.WithLabelValues(fmt.Sprint(tc.code))); got != 1 {
				t.Errorf("webhook_requests_total{code=%d} = %v, want 1", tc.code, got)
			}
		})
	}
}

func TestMetricsInitialised(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg)
	expected := `
# HELP route_actuator_alerts_received_total Alerts received in webhooks by their own status.
# TYPE route_actuator_alerts_received_total counter
route_actuator_alerts_received_total{status="firing"} 0
route_actuator_alerts_received_total{status="resolved"} 0
# HELP route_actuator_webhook_requests_in_flight Webhook requests being handled now (at most --webhook.max-requests).
# TYPE route_actuator_webhook_requests_in_flight gauge
route_actuator_webhook_requests_in_flight 0
# HELP route_actuator_webhook_requests_total Webhook requests by HTTP status code.
# TYPE route_actuator_webhook_requests_total counter
route_actuator_webhook_requests_total{code="200"} 0
route_actuator_webhook_requests_total{code="400"} 0
route_actuator_webhook_requests_total{code="405"} 0
route_actuator_webhook_requests_total{code="413"} 0
route_actuator_webhook_requests_total{code="415"} 0
route_actuator_webhook_requests_total{code="503"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestFingerprintFilledIn(t *testing.T) {
	body := strings.Replace(string(fixture(t, "withdraw.json")), `"fingerprint":"1111111111111111"`, `"fingerprint":""`, 1)
	events, err := decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := alertstate.Fingerprint(events[0].Labels); events[0].Fingerprint != want {
		t.Errorf("fingerprint %q, want %q computed from labels", events[0].Fingerprint, want)
	}
}

// blocker holds every Ingest until released, counting those inside.
type blocker struct {
	in      chan struct{}
	release chan struct{}
}

func (b *blocker) Ingest(ctx context.Context, _ []alertstate.Event) error {
	b.in <- struct{}{}
	<-b.release
	return nil
}

// Beyond MaxRequests in flight the handler answers 503 at once (Alertmanager
// retries on 5xx) instead of queueing; a slot freed is usable again.
func TestMaxRequestsInFlight(t *testing.T) {
	b := &blocker{in: make(chan struct{}, 2), release: make(chan struct{})}
	h := &Handler{Ingester: b, Metrics: NewMetrics(prometheus.NewPedanticRegistry()), Logger: slog.New(slog.DiscardHandler), MaxRequests: 2}
	body := fixture(t, "withdraw.json")
	post := func() int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body)))
		return w.Code
	}
	codes := make(chan int, 2)
	for range 2 {
		go func() { codes <- post() }()
	}
	<-b.in
	<-b.in
	if got := testutil.ToFloat64(h.Metrics.inFlight); got != 2 {
		t.Errorf("in flight %v, want 2", got)
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Errorf("third concurrent request: code %d, want 503", code)
	}
	close(b.release)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("held request: code %d, want 200", c)
		}
	}
	if code := post(); code != 200 {
		t.Errorf("after release: code %d, want 200", code)
	}
	if got := testutil.ToFloat64(h.Metrics.requests.WithLabelValues("503")); got != 1 {
		t.Errorf("webhook_requests_total{code=503} = %v, want 1", got)
	}
}

// The pooled decoder, reused request after request, gives what a fresh
// decode gives: the same events (labels compared as maps, an absent map
// being empty) or the same error, whatever it decoded before.
func TestPooledDecodeMatchesDecode(t *testing.T) {
	bodies := fixtures(t)
	var big strings.Builder
	big.WriteString(`{"version":"4","receiver":"r","groupLabels":{"a":"b"},"alerts":[`)
	for i := range 300 {
		if i > 0 {
			big.WriteString(",")
		}
		// Fields the small payloads lack must not leak into them.
		fmt.Fprintf(&big, `{"status":"resolved","labels":{"alertname":"DNSServerDown","nexthop":"198.51.100.%d","service":"192.0.2.53/32","extra":"x"},`+
			`"annotations":{"summary":"s"},"startsAt":"2026-01-01T12:00:00Z","endsAt":"2026-01-01T12:05:00Z","generatorURL":"http://g","fingerprint":"%016x"}`, i%250, i)
	}
	big.WriteString(`]}`)
	bodies = append(bodies, []byte(big.String()),
		[]byte(`{"version":"4"}`),
		[]byte(`{"version":"4","receiver":"r"}`),
		[]byte(`{"version":"4","alerts":[]}`),
		[]byte(`{"version":"4","alerts":null}`),
		[]byte(`{"version":"4","alerts":[{"status":"firing","startsAt":"2026-01-01T12:00:00Z"}]}`),
		[]byte(`{"version":"4","alerts":[{"status":"firing","labels":null,"annotations":null,"startsAt":"2026-01-01T12:00:00Z"}]}`),
		[]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-01-01T12:00:00Z"}],`+
			`"alerts":[{"status":"resolved","endsAt":"2026-01-01T12:01:00Z"}]}`),
		[]byte(`{"version":"4","alerts":[{"status":"firing","startsAt":"2026-01-01T12:00:00Z","labels":{"alertname":5}}]}`),
	)
	d := new(decoder)
	for round := range 3 {
		for i, body := range bodies {
			if msg := samePooled(d, body); msg != "" {
				t.Errorf("round %d, body %d: %s", round, i, msg)
			}
		}
	}
}

// samePooled decodes body with d and with decode and says how they differ
// ("" when they do not); d is released after.
func samePooled(d *decoder, body []byte) string {
	defer d.release()
	want, wantErr := decode(body)
	got, err := d.decode(body)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		return fmt.Sprintf("error %v, want %v", err, wantErr)
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for j := range want {
		g, w := got[j], want[j]
		if !maps.Equal(g.Labels, w.Labels) {
			return fmt.Sprintf("event %d: labels %v, want %v", j, g.Labels, w.Labels)
		}
		g.Labels, w.Labels = nil, nil
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("event %d: %+v, want %+v", j, g, w)
		}
	}
	return ""
}

// FuzzPooledDecode: one pooled decoder, reused across inputs, agrees with
// decode on every input.
func FuzzPooledDecode(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	d := new(decoder)
	f.Fuzz(func(t *testing.T, body []byte) {
		if msg := samePooled(d, body); msg != "" {
			t.Error(msg)
		}
	})
}
