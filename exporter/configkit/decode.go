// Package configkit is the configuration engine of both daemons: strict YAML,
// every problem of a file at once as "file:line: reason", warnings, and the
// values both share (the service/nexthop label contract, names, secrets).
// It sits under exporter/ because the exporter defines the label contract the
// actuator consumes; it imports nothing of this module.
package configkit

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// ErrEmpty is the error (wrapped) for a document that is empty or only null.
var ErrEmpty = errors.New("empty configuration")

// Defaulter is a section that sets its defaults before its keys are decoded.
type Defaulter interface{ SetDefaults() }

// Validator is a section that checks itself after decoding, reporting with
// d.Errorf(&field, ...) so that each problem names its line.
type Validator interface{ Validate(d *Decoder) }

// Decoder holds where every decoded value came from and what is wrong.
type Decoder struct {
	file        string
	errs, warns []string
	seen        map[string]bool
	at          map[ref]pos
}

// ref is a value's address and type (a struct and its first field share the
// address); pos its line, or its mapping's while its key is unset.
type (
	ref struct {
		p uintptr
		t reflect.Type
	}
	pos struct {
		line int
		set  bool
	}
)

func newDecoder(file string) *Decoder {
	return &Decoder{file: file, at: map[ref]pos{}, seen: map[string]bool{}}
}

// Decode parses b, one YAML document, into v, a pointer to a struct whose
// yaml tags are the keys (",inline" embeds a struct's keys): any other key, a
// repeated key or a value of the wrong kind is an error. Every struct reached,
// its key present or not, gets SetDefaults first. Scalars decode as yaml.v3
// decodes them, model.Duration with its own message. The error has every
// problem, one per line; it wraps ErrEmpty for an empty or null document.
func Decode(file string, b []byte, v any) (*Decoder, error) {
	d := newDecoder(file)
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		d.syntax(err, b)
		return d, d.Err()
	}
	root := reflect.ValueOf(v).Elem()
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		d.absent(root, 1)
		return d, fmt.Errorf("%s:1: %w", file, ErrEmpty)
	}
	d.decode(doc.Content[0], root, "")
	return d, d.Err()
}

// Validate runs v's checks outside a file: errors carry no position.
func Validate(v Validator) error {
	d := newDecoder("")
	v.Validate(d)
	return d.Err()
}

// syntax records a parse error, which yaml.v3 words "yaml: line N: reason";
// reader errors (bad UTF-8, control characters) carry no line: find it.
func (d *Decoder) syntax(err error, b []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, err := fmt.Sscanf(msg, "line %d: ", &line); err == nil {
		_, msg, _ = strings.Cut(msg, ": ")
	} else if i := strings.IndexFunc(string(b), func(r rune) bool {
		return r == utf8.RuneError || r < ' ' && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
	}); i >= 0 {
		line = 1 + strings.Count(string(b[:i]), "\n")
	}
	d.Errorf(line, "%s", msg)
}

func (d *Decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.at[refOf(v)] = pos{n.Line, true}
	null := n.Tag == "!!null"
	tu, text := v.Addr().Interface().(encoding.TextUnmarshaler)
	switch {
	case text && v.Kind() == reflect.Struct && n.Kind == yaml.ScalarNode:
		// netip.Addr and the like are structs that parse from a scalar.
		if err := tu.UnmarshalText([]byte(n.Value)); err != nil {
			d.Errorf(n.Line, "%s: %q is not valid: %v", key[strings.LastIndex(key, ".")+1:], n.Value, err)
		}
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, key)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		if !null {
			v.Set(reflect.New(v.Type().Elem()))
			d.mapping(n, v.Elem(), key)
		}
	case v.Kind() == reflect.Slice:
		v.SetZero()
		if null {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.Errorf(n.Line, "cannot unmarshal %s into a list", describe(n))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
		for i, e := range n.Content {
			d.decode(e, v.Index(i), key+"[]")
		}
	case v.Type() == reflect.TypeFor[model.Duration]():
		dur, err := model.ParseDuration(n.Value)
		if err != nil || n.Kind != yaml.ScalarNode {
			d.Errorf(n.Line, "%s: %q is not a duration (e.g. 500ms, 10s, 1m)", key[strings.LastIndex(key, ".")+1:], n.Value)
		}
		v.Set(reflect.ValueOf(dur))
	default:
		var te *yaml.TypeError
		if err := n.Decode(v.Addr().Interface()); errors.As(err, &te) {
			for _, m := range te.Errors {
				d.Errorf(n.Line, "%s", strings.TrimPrefix(m, fmt.Sprintf("line %d: ", n.Line)))
			}
		} else if err != nil {
			d.Errorf(n.Line, "%s: %v", key, err)
		}
	}
}

// mapping decodes n into struct v. The section path key names it in errors:
// "backend.netlink", "routes[]".
func (d *Decoder) mapping(n *yaml.Node, v reflect.Value, key string) {
	fields := d.absent(v, n.Line)
	if n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := "a mapping"
		if list, ok := strings.CutSuffix(key[strings.LastIndex(key, ".")+1:], "s[]"); ok {
			what = "a " + list + " (a mapping)"
		}
		d.Errorf(n.Line, "cannot unmarshal %s into %s", describe(n), what)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if first, dup := seen[k.Value]; dup {
			d.Errorf(k.Line, "mapping key %q already defined at line %d", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if !ok {
			d.Errorf(k.Line, "unknown field %q%s", k.Value, strings.TrimSuffix(" in "+key, " in "))
		} else {
			d.decode(val, f, strings.TrimPrefix(key+"."+k.Value, "."))
		}
	}
}

// absent sets struct v's defaults and places its fields, recursively, at
// line (that of the mapping they belong in) until a key sets them. It
// returns the fields by key.
func (d *Decoder) absent(v reflect.Value, line int) map[string]reflect.Value {
	if df, ok := v.Addr().Interface().(Defaulter); ok {
		df.SetDefaults()
	}
	fields := map[string]reflect.Value{}
	for i := range v.NumField() {
		f := v.Field(i)
		name, opt, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		switch {
		case opt == "inline":
			maps.Copy(fields, d.absent(f, line))
			continue
		case name == "" || name == "-":
			continue
		case f.Kind() == reflect.Struct:
			d.absent(f, line)
		}
		d.at[refOf(f)] = pos{line: line}
		fields[name] = f
	}
	return fields
}

func refOf(v reflect.Value) ref { return ref{v.Addr().Pointer(), v.Type()} }

func describe(n *yaml.Node) string {
	return strings.TrimSuffix(fmt.Sprintf("%s `%s`", n.ShortTag(), n.Value), " ``")
}

// Line is where field, a pointer into the decoded value, was set, or else
// the line of the mapping its key belongs in.
func (d *Decoder) Line(field any) int { return d.pos(field).line }

// Set reports whether field's key (or list element) was in the file.
func (d *Decoder) Set(field any) bool { return d.pos(field).set }

func (d *Decoder) pos(field any) pos {
	v := reflect.ValueOf(field)
	return d.at[ref{v.Pointer(), v.Type().Elem()}]
}

// Errorf records a problem at a line, or at a field's when at points into
// the decoded value; Warnf something that works but should be fixed. Each
// message is kept once: a bad default would otherwise repeat per use.
func (d *Decoder) Errorf(at any, format string, args ...any) {
	d.errs = d.add(d.errs, at, format, args)
}
func (d *Decoder) Warnf(at any, format string, args ...any) {
	d.warns = d.add(d.warns, at, format, args)
}

func (d *Decoder) add(list []string, at any, format string, args []any) []string {
	// One problem per line: a value quoted in a message may hold newlines.
	msg := strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(fmt.Sprintf(format, args...))
	if d.file != "" {
		line, ok := at.(int)
		if !ok {
			line = d.Line(at)
		}
		msg = fmt.Sprintf("%s:%d: %s", d.file, max(line, 1), msg)
	}
	if d.seen[msg] {
		return list
	}
	d.seen[msg] = true
	return append(list, msg)
}

// Err is every problem recorded, one per line, or nil.
func (d *Decoder) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(d.errs, "\n"))
}

// NumErrors is how many problems have been recorded; Warnings are the
// warnings, each "file:line: text".
func (d *Decoder) NumErrors() int     { return len(d.errs) }
func (d *Decoder) Warnings() []string { return d.warns }
