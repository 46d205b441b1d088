// Package webhook serves POST /webhook: Alertmanager's webhook payload
// (version 4) decoded with encoding/json into Alertmanager's own
// template.Data, handed to an Ingester that records the alerts and
// reconciles before the reply, so a 200 means the device is updated.
//
// Each request is bounded: the body is read incrementally up to MaxBodyBytes
// (413 beyond) and at most MaxRequests are handled at once (503 beyond,
// which Alertmanager retries).
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slaroute/slaroute/actuator/alertstate"
	"github.com/slaroute/slaroute/actuator/route"
)

// DefaultMaxBodyBytes bounds a request body; larger ones get 413. A
// 100-alert group is ~60 KiB; Alertmanager's max_alerts truncates larger ones.
const DefaultMaxBodyBytes = 4 << 20

// DefaultMaxRequests bounds the webhooks handled at once; more get 503.
// With the shipped group_by ['...'] each alert is its own notification, so a
// burst of simultaneous alerts arrives as that many concurrent requests; they
// serialise on the reconciler anyway, and memory stays under
// DefaultMaxRequests x DefaultMaxBodyBytes.
const DefaultMaxRequests = 64

// Ingester records alerts and reconciles. An error wrapping
// route.ErrUnavailable turns into 503 so that Alertmanager retries. The
// events and their label maps belong to the handler: they are reused once
// Ingest returns, so what is kept of them must be copied.
type Ingester interface {
	Ingest(ctx context.Context, events []alertstate.Event) error
}

// Codes are every status code the handler answers with (pre-initialised).
var Codes = []int{http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed,
	http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable}

// Metrics are the webhook's metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	// Resolved children: a label lookup per alert was measurable at 2,000 webhooks/s.
	byCode            map[int]prometheus.Counter
	firing, resolvedC prometheus.Counter
}

// NewMetrics registers the webhook metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "route_actuator_webhook_requests_total", Help: "Webhook requests by HTTP status code.",
		}, []string{"code"}),
	}
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "route_actuator_webhook_requests_in_flight", Help: "Webhook requests being handled now (at most --webhook.max-requests).",
	})
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "route_actuator_alerts_received_total", Help: "Alerts received in webhooks by their own status.",
	}, []string{"status"})
	reg.MustRegister(m.requests, received, m.inFlight)
	m.byCode = make(map[int]prometheus.Counter, len(Codes))
	for _, c := range Codes {
		m.byCode[c] = m.requests.WithLabelValues(strconv.Itoa(c))
	}
	m.firing = received.WithLabelValues(string(alertstate.Firing))
	m.resolvedC = received.WithLabelValues(string(alertstate.Resolved))
	return m
}

// payload is Alertmanager's notify/webhook.Message, field for field. That
// package is not imported: it pulls in all of notify (cluster, tracing,
// OpenTelemetry, gRPC, Kafka) for three string fields.
type payload struct {
	*template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// bodies are request body buffers: decode keeps nothing of a body (strings
// are copied), so a buffer is reused once the request is decoded.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Handler serves POST /webhook. Its zero limits are the defaults.
type Handler struct {
	Ingester     Ingester
	Metrics      *Metrics
	Logger       *slog.Logger
	MaxBodyBytes int64
	MaxRequests  int

	once  sync.Once
	slots chan struct{}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(func() {
		n := h.MaxRequests
		if n <= 0 {
			n = DefaultMaxRequests
		}
		h.slots = make(chan struct{}, n)
	})
	// An in-flight slot is taken without waiting: a queue would hold
	// connections and memory without bound, a 503 makes Alertmanager retry.
	var code int
	var msg string
	select {
	case h.slots <- struct{}{}:
		h.Metrics.inFlight.Inc()
		code, msg = h.serve(r)
		h.Metrics.inFlight.Dec()
		<-h.slots
	default:
		code, msg = http.StatusServiceUnavailable, "too many webhook requests in flight, retry"
	}
	h.Metrics.byCode[code].Inc()
	if code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

func (h *Handler) serve(r *http.Request) (int, string) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "use POST"
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, "content type must be application/json"
		}
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 { // a rare large body is not kept
			bodies.Put(buf)
		}
	}()
	buf.Reset()
	// The buffer grows with the bytes that arrive, never with the client's
	// Content-Length: 100 connections claiming 4 MiB and sending one byte
	// each once cost 943 MB of heap. A pooled buffer keeps growth rare.
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit)
		}
		return http.StatusBadRequest, "reading body: " + err.Error()
	}
	dec := decoders.Get().(*decoder)
	defer func() {
		dec.release()
		decoders.Put(dec)
	}()
	events, err := dec.decode(buf.Bytes())
	if err != nil {
		h.Logger.Warn("Rejected webhook", "err", err)
		return http.StatusBadRequest, err.Error()
	}
	var firing int
	for _, e := range events {
		if e.Status == alertstate.Firing {
			firing++
		}
	}
	h.Metrics.firing.Add(float64(firing))
	h.Metrics.resolvedC.Add(float64(len(events) - firing))
	if err := h.Ingester.Ingest(r.Context(), events); err != nil {
		if errors.Is(err, route.ErrUnavailable) {
			return http.StatusServiceUnavailable, "backend unavailable, retry: " + err.Error()
		}
		// Retrying cannot help: the state is recorded and the resync retries.
		h.Logger.Error("Webhook processed with errors", "err", err)
		return http.StatusOK, "accepted with errors: " + err.Error()
	}
	return http.StatusOK, "ok"
}

// decode validates the whole payload before anything is recorded. The
// events are freshly allocated; serve uses a pooled decoder instead.
func decode(body []byte) ([]alertstate.Event, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("invalid JSON payload: %w", err)
	}
	return events(&p, nil)
}

// events validates a decoded payload and appends its alerts to out as events.
func events(p *payload, out []alertstate.Event) ([]alertstate.Event, error) {
	// An absent version is not version 4: the payload is not Alertmanager's.
	if p.Version != "4" {
		return nil, fmt.Errorf("unsupported payload version %q, want \"4\"", p.Version)
	}
	if p.Data == nil {
		return nil, errors.New("payload without alerts")
	}
	if out == nil {
		out = make([]alertstate.Event, 0, len(p.Alerts))
	}
	for i, a := range p.Alerts {
		// Each alert's own status: the group status says firing while any member fires.
		st := alertstate.Status(a.Status)
		if st != alertstate.Firing && st != alertstate.Resolved {
			return nil, fmt.Errorf("alert %d: status %q is neither firing nor resolved", i, a.Status)
		}
		if st == alertstate.Firing && a.StartsAt.IsZero() {
			return nil, fmt.Errorf("alert %d: firing without startsAt", i)
		}
		if st == alertstate.Resolved && a.EndsAt.IsZero() {
			return nil, fmt.Errorf("alert %d: resolved without endsAt", i)
		}
		fp := a.Fingerprint
		if fp == "" {
			fp = alertstate.Fingerprint(a.Labels)
		}
		ev := alertstate.Event{
			Fingerprint: fp,
			Labels:      map[string]string(a.Labels),
			Status:      st,
			StartsAt:    a.StartsAt,
		}
		// A firing alert's endsAt is Alertmanager's timeout guess, not an event time.
		if st == alertstate.Resolved {
			ev.EndsAt = a.EndsAt
		}
		out = append(out, ev)
	}
	return out, nil
}

// Bounds of what a pooled decoder keeps between requests: a rare huge group
// or label set is decoded as usual but not kept.
const (
	poolMaxAlerts = 1024
	poolMaxLabels = 64
)

// decoder is the memory of one decode, reused across requests: the alerts
// array, each element's label and annotation maps (cleared), and the events.
// Decoding into it gives what decoding into a fresh payload gives (encoding/json
// fills existing maps and slice elements), except that an alert without labels
// or annotations has empty maps instead of nil ones, which nothing tells apart.
// It saves most of a webhook's allocations: the alerts slice growing, two
// maps per alert, the events.
type decoder struct {
	data   template.Data
	alerts []template.Alert // len 0; every element up to cap is reset
	events []alertstate.Event
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// decode is the package's decode through the pooled memory; the events and
// their label maps are valid until release. Its errors are decode's: the
// target's types are the same. A payload without alerts is decoded again by
// decode, because with Data set beforehand it cannot tell whether any field
// of template.Data was present ("payload without alerts").
func (d *decoder) decode(body []byte) ([]alertstate.Event, error) {
	d.data = template.Data{Alerts: d.alerts}
	p := payload{Data: &d.data}
	err := json.Unmarshal(body, &p)
	// Adopt the alerts array decoding ended with when it grew, within bounds.
	if cap(p.Alerts) > cap(d.alerts) && cap(p.Alerts) <= poolMaxAlerts {
		d.alerts = p.Alerts[:0]
	}
	if err != nil {
		return nil, fmt.Errorf("invalid JSON payload: %w", err)
	}
	if len(p.Alerts) == 0 {
		return decode(body)
	}
	d.events, err = events(&p, d.events[:0])
	return d.events, err
}

// release resets the decoder for the next request: nothing of this one stays.
func (d *decoder) release() {
	clear(d.events[:cap(d.events)])
	if cap(d.events) > poolMaxAlerts {
		d.events = nil
	}
	all := d.alerts[:cap(d.alerts)]
	for i := range all {
		a := &all[i]
		*a = template.Alert{Labels: reuse(a.Labels), Annotations: reuse(a.Annotations)}
	}
	d.data = template.Data{}
}

// reuse returns m cleared, or nil when it is too large to keep.
func reuse(m template.KV) template.KV {
	if len(m) > poolMaxLabels {
		return nil
	}
	clear(m)
	return m
}
