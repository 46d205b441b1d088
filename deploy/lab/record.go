//go:build linux

package lab

import (
	"bytes"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Recorder samples the chain while a scenario runs, for a Picture: each
// server's probe verdict (the exporter's dns_sla_verdict), whether
// DNSServerDown fires for it in Alertmanager, which server answers each of
// a set of long-lived client flows (a resilient nexthop group keeps them
// where they are when a nexthop returns) and each of as many new flows
// (fresh source ports, opened per sample: where new traffic goes). Route
// membership comes from the Watcher's exact change times.
type Recorder struct {
	e       *Env
	c       *Clients
	every   time.Duration
	start   time.Time
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples []recSample
}

type recSample struct {
	At, To  time.Time
	Up      map[string]string  // server -> up | down | unknown
	Firing  map[string]string  // server -> firing | quiet | unknown
	Answers map[string]float64 // server or "failed" -> share of the long-lived flows
	Fresh   map[string]float64 // the same for new flows
}

// StartRecording samples every interval until Stop. c's flows are asked
// once per sample (with the interval as timeout), and as many new ones;
// give it flows of their own.
func (e *Env) StartRecording(c *Clients, every time.Duration) *Recorder {
	r := &Recorder{e: e, c: c, every: every, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		r.sampleOnce()
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

func (r *Recorder) sampleOnce() {
	s := recSample{At: time.Now(), Up: map[string]string{}, Firing: map[string]string{}}
	var wg sync.WaitGroup
	wg.Go(func() { s.Up = r.verdicts() })
	wg.Go(func() { s.Firing = r.firing() })
	wg.Go(func() { s.Answers = shares(r.c.Sample(r.every)) })
	wg.Go(func() {
		c, err := r.e.NewClients(len(r.c.Flows))
		if err != nil {
			return // no bars for this sample
		}
		s.Fresh = shares(c.Sample(r.every))
		c.Close()
	})
	wg.Wait()
	s.To = time.Now()
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// shares returns each server's share of the answers ("failed": none).
func shares(as []Answer) map[string]float64 {
	out := map[string]float64{}
	for srv, n := range Spread(as) {
		if srv == "" {
			srv = "failed"
		}
		out[srv] = float64(n) / float64(len(as))
	}
	return out
}

// verdicts reads dns_sla_verdict per target from the exporter's verdict
// subset (complete: no changed_within): 0 up, failures down, -1 not probed yet.
func (r *Recorder) verdicts() map[string]string {
	out := map[string]string{}
	for _, s := range r.e.Servers {
		out[s.Name] = "unknown"
	}
	code, body, err := r.e.Get("http://" + ExporterAddr + "/metrics?collect[]=verdict")
	if err != nil || code != http.StatusOK {
		return out
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := tp.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return out
	}
	for _, m := range mfs["dns_sla_verdict"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "target" {
				switch v := m.GetGauge().GetValue(); {
				case v == 0:
					out[lp.GetValue()] = "up"
				case v > 0:
					out[lp.GetValue()] = "down"
				}
			}
		}
	}
	return out
}

// firing reads which servers have an active DNSServerDown in Alertmanager.
func (r *Recorder) firing() map[string]string {
	out := map[string]string{}
	as, err := r.e.Alerts(AlertmanagerAddr)
	for _, s := range r.e.Servers {
		out[s.Name] = "quiet"
		if err != nil {
			out[s.Name] = "unknown"
		}
	}
	for _, a := range as {
		if a.Labels["alertname"] == "DNSServerDown" && a.Status.State == "active" {
			out[a.Labels["target"]] = "firing"
		}
	}
	return out
}

// Stop ends the recording and returns its Picture.
func (r *Recorder) Stop(title, note string, marks ...Mark) Picture {
	close(r.stop)
	<-r.done
	end := time.Now()
	r.mu.Lock()
	samples := slices.Clone(r.samples)
	r.mu.Unlock()
	var names []string
	addrs := map[string]netip.Addr{}
	for _, s := range r.e.Servers {
		names = append(names, s.Name)
		addrs[s.Name] = s.Addr
	}
	return buildPicture(title, note, r.start, end, names, addrs, samples, r.e.Watcher.Events(), marks)
}

// buildPicture turns samples and route events into a Picture (pure).
func buildPicture(title, note string, start, end time.Time, names []string, addrs map[string]netip.Addr,
	samples []recSample, routes []RouteEvent, marks []Mark) Picture {
	p := Picture{Title: title, Note: note, Start: start, End: end, Marks: marks}
	// Each sample holds from its time to the next sample's.
	until := func(i int) time.Time {
		if i+1 < len(samples) {
			return samples[i+1].At
		}
		return end
	}
	states := func(group string, get func(recSample) map[string]string) {
		for _, n := range names {
			row := Row{Group: group, Label: n}
			for i, s := range samples {
				st := get(s)[n]
				if k := len(row.Spans); k > 0 && row.Spans[k-1].State == st {
					row.Spans[k-1].To = until(i)
					continue
				}
				row.Spans = append(row.Spans, Span{From: s.At, To: until(i), State: st})
			}
			p.Rows = append(p.Rows, row)
		}
	}
	states("probe", func(s recSample) map[string]string { return s.Up })
	states("alert", func(s recSample) map[string]string { return s.Firing })

	// Route membership from the watcher's change times: the state at start
	// is the last event before it.
	var cur []netip.Addr
	var changes []RouteEvent
	for _, ev := range routes {
		if ev.At.After(start) {
			if ev.At.Before(end) {
				changes = append(changes, ev)
			}
			continue
		}
		cur = ev.Nexthops
	}
	for _, n := range names {
		row := Row{Group: "route", Label: n + " (" + addrs[n].String() + ")"}
		in := func(nhs []netip.Addr) string {
			if slices.Contains(nhs, addrs[n]) {
				return "in"
			}
			return "out"
		}
		from, st := start, in(cur)
		for _, ev := range changes {
			if s := in(ev.Nexthops); s != st {
				row.Spans = append(row.Spans, Span{From: from, To: ev.At, State: st})
				from, st = ev.At, s
			}
		}
		row.Spans = append(row.Spans, Span{From: from, To: end, State: st})
		p.Rows = append(p.Rows, row)
	}

	for _, g := range []struct {
		group string
		get   func(recSample) map[string]float64
	}{
		{"clients", func(s recSample) map[string]float64 { return s.Answers }},
		{"newclients", func(s recSample) map[string]float64 { return s.Fresh }},
	} {
		for _, n := range append(slices.Clone(names), "failed") {
			row := Row{Group: g.group, Label: n}
			for i, s := range samples {
				if m := g.get(s); m != nil {
					row.Bars = append(row.Bars, Bar{From: s.At, To: until(i), Share: m[n]})
				}
			}
			p.Rows = append(p.Rows, row)
		}
	}
	return p
}
