package webhook

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
)

// fastDecode decodes a webhook body into p without reflection: encoding/json
// spent over 80% of a 100-alert webhook's CPU time. It accepts only the shape
// Alertmanager sends: every key one of payload's (spelt exactly, at most
// once), strings, objects of strings, the alerts array, RFC 3339 times,
// truncatedAlerts as a plain integer, and null for any of these (a nil map
// marshals as null). On anything else (an unknown or
// case-folded key, another type, a lone surrogate, invalid UTF-8, bad syntax)
// it returns false and leaves the body to encoding/json, whose result and
// errors stay the reference. When it returns true, p equals what
// json.Unmarshal decodes (TestFastDecodeMatchesJSON, FuzzFastDecode).
func fastDecode(b []byte, p *payload) bool {
	d := decoder{b: b}
	d.ws()
	if !d.payload(p) {
		return false
	}
	d.ws()
	return d.i == len(d.b)
}

type decoder struct {
	b []byte
	i int
	// seen interns short strings in a direct-mapped cache: label names and
	// values repeat across the alerts of a payload, and each copy would be an
	// allocation (a map costs more than it saves).
	seen [512]string
}

// plain marks the string bytes that need no attention: not '"', '\\', a
// control character or part of a multi-byte character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c.
func (d *decoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object calls field for every key of an object, positioned at its value;
// field returns false to give up.
func (d *decoder) object(field func(key string) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		d.ws()
		key, ok := d.str()
		if !ok || !d.next(':') {
			return false
		}
		d.ws()
		if !field(key) {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next('}')
	}
}

// null consumes a null literal: encoding/json leaves the value zero (nil for
// maps and slices), and every value starts zero here.
func (d *decoder) null() bool {
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// fields returns a field callback that accepts each known key once.
func fields(known []string, set func(i int) bool) func(string) bool {
	var seen uint64
	return func(key string) bool {
		for i, k := range known {
			if k == key {
				if seen&(1<<i) != 0 {
					return false // a duplicate key: encoding/json merges maps
				}
				seen |= 1 << i
				return set(i)
			}
		}
		return false
	}
}

var payloadKeys = []string{"receiver", "status", "alerts", "notification_reason", "groupLabels", "commonLabels",
	"commonAnnotations", "routeLabels", "externalURL", "version", "groupKey", "truncatedAlerts"}

func (d *decoder) payload(p *payload) bool {
	return d.object(fields(payloadKeys, func(i int) bool {
		switch i {
		case 0:
			return d.strTo(&p.Receiver)
		case 1:
			return d.strTo(&p.Status)
		case 2:
			return d.alerts(&p.Alerts)
		case 3:
			return d.strTo(&p.NotificationReason)
		case 4:
			return d.kv(&p.GroupLabels)
		case 5:
			return d.kv(&p.CommonLabels)
		case 6:
			return d.kv(&p.CommonAnnotations)
		case 7:
			return d.kv(&p.RouteLabels)
		case 8:
			return d.strTo(&p.ExternalURL)
		case 9:
			return d.strTo(&p.Version)
		case 10:
			return d.strTo(&p.GroupKey)
		case 11:
			return d.uint(&p.TruncatedAlerts)
		}
		return false
	}))
}

var alertKeys = []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}

func (d *decoder) alerts(as *template.Alerts) bool {
	if d.null() {
		return true
	}
	if !d.next('[') {
		return false
	}
	*as = template.Alerts{} // [] decodes to an empty, not a nil, slice
	if d.next(']') {
		return true
	}
	for {
		var a template.Alert
		ok := d.object(fields(alertKeys, func(i int) bool {
			switch i {
			case 0:
				return d.strTo(&a.Status)
			case 1:
				return d.kv(&a.Labels)
			case 2:
				return d.kv(&a.Annotations)
			case 3:
				return d.time(&a.StartsAt)
			case 4:
				return d.time(&a.EndsAt)
			case 5:
				return d.strTo(&a.GeneratorURL)
			case 6:
				return d.strTo(&a.Fingerprint)
			}
			return false
		}))
		if !ok {
			return false
		}
		*as = append(*as, a)
		if d.next(',') {
			continue
		}
		return d.next(']')
	}
}

func (d *decoder) kv(m *template.KV) bool {
	if d.null() {
		return true
	}
	*m = template.KV{} // {} decodes to an empty, not a nil, map
	return d.object(func(key string) bool {
		v, ok := d.str()
		(*m)[key] = v
		return ok
	})
}

func (d *decoder) strTo(s *string) bool {
	if d.null() {
		return true
	}
	v, ok := d.str()
	*s = v
	return ok
}

// time hands the quoted literal to time.Time's own UnmarshalJSON, as encoding/json does.
func (d *decoder) time(t *time.Time) bool {
	if d.null() {
		return true
	}
	start := d.i
	if _, ok := d.str(); !ok {
		return false
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

// uint reads a JSON integer without sign, fraction or exponent.
func (d *decoder) uint(u *uint64) bool {
	if d.null() {
		return true
	}
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	lit := d.b[start:d.i]
	if len(lit) == 0 || (lit[0] == '0' && len(lit) > 1) {
		return false
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return false
	}
	v, err := strconv.ParseUint(string(lit), 10, 64)
	*u = v
	return err == nil
}

// str reads a string at d.i. Plain ASCII is copied once; escapes are
// decoded; non-ASCII bytes must be valid UTF-8 (encoding/json would replace
// invalid ones, so give up instead).
func (d *decoder) str() (string, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	b, start := d.b, d.i+1
	high := false
	for i := start; i < len(b); i++ {
		for i < len(b) && plain[b[i]] { // locals: the hot loop stays in registers
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			if high && !utf8.Valid(b[start:i]) {
				return "", false
			}
			return d.intern(b[start:i]), true
		case c == '\\':
			d.i = i
			return d.escaped(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return "", false
}

func (d *decoder) intern(b []byte) string {
	if len(b) == 0 || len(b) > 32 {
		return string(b)
	}
	// Hash the first and last (up to) 8 bytes and the length: cheaper than
	// every byte, and these strings differ at their ends (addresses, names).
	var head, tail uint64
	if len(b) >= 8 {
		head, tail = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for i, c := range b {
			head |= uint64(c) << (8 * i)
		}
	}
	h := (head*0x9E3779B97F4A7C15 ^ tail*0xBF58476D1CE4E5B9 ^ uint64(len(b))*0x94D049BB133111EB) >> (64 - 9)
	if s := d.seen[h]; s == string(b) {
		return s
	}
	s := string(b)
	d.seen[h] = s
	return s
}

// escaped continues str at the first backslash of a string starting at start.
func (d *decoder) escaped(start int) (string, bool) {
	out := make([]byte, 0, d.i-start+16)
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(out) {
				return "", false
			}
			return d.intern(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", false
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a proper pair; encoding/json replaces the rest with U+FFFD.
				if d.i+1 >= len(d.b) || d.b[d.i] != '\\' || d.b[d.i+1] != 'u' {
					return "", false
				}
				d.i += 2
				r2, ok := d.hex4()
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", false
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}
