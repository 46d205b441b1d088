package configkit

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

type item struct {
	Name string `yaml:"name"`
	Size int    `yaml:"size"`
}

func (i *item) SetDefaults() { i.Size = 1 }

type section struct {
	Wait model.Duration `yaml:"wait"`
	On   bool           `yaml:"on"`
}

type doc struct {
	Items   []item   `yaml:"items"`
	Section section  `yaml:"section"`
	Opt     *section `yaml:"opt"`
	Tags    []string `yaml:"tags"`
	Common  section  `yaml:",inline"`
	Derived string   // not a key
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"syntax", "items:\n  - name: a\n - name: b\n", "f.yml:2: did not find expected key"},
		{"control character", "tags: [a]\nitems: [\x01]\n", "f.yml:2: control characters are not allowed"},
		{"bad UTF-8", "tags: [a]\n\ntags: [\xff]\n", "f.yml:3: invalid leading UTF-8 octet"},
		{"all problems at once", "nope: 1\nitems:\n  - name: a\n    sise: 2\n  - size: x\nsection: {wait: soon, on: maybe}\n",
			"f.yml:1: unknown field \"nope\"\nf.yml:4: unknown field \"sise\" in items[]\nf.yml:5: cannot unmarshal !!str `x` into int\n" +
				"f.yml:6: wait: \"soon\" is not a duration (e.g. 500ms, 10s, 1m)\nf.yml:6: cannot unmarshal !!str `maybe` into bool"},
		{"repeated key", "tags: [a]\ntags: [b]\ntags: [c]\n", "f.yml:2: mapping key \"tags\" already defined at line 1\nf.yml:3: mapping key \"tags\" already defined at line 1"},
		{"kinds", "items: {name: a}\nsection: [1]\ntags: [[a]]\n",
			"f.yml:1: cannot unmarshal !!map into a list\nf.yml:2: cannot unmarshal !!seq into a mapping\nf.yml:3: cannot unmarshal !!seq into string"},
		{"element not a mapping", "items: [a]\n", "f.yml:1: cannot unmarshal !!str `a` into a item (a mapping)"},
		{"not a mapping", "- a\n", "f.yml:1: cannot unmarshal !!seq into a mapping"},
		{"untagged field", "derived: x\n", "f.yml:1: unknown field \"derived\""},
		{"empty", "# nothing\n", "f.yml:1: empty configuration"},
		{"null", "~\n", "f.yml:1: empty configuration"},
	} {
		var v doc
		if _, err := Decode("f.yml", []byte(tc.in), &v); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error\n%v\nwant\n%s", tc.name, err, tc.want)
		}
	}
}

func TestDecodeValuesAndLines(t *testing.T) {
	in := "items:\n  - &a\n    name: a\n  - name: b\n    size: 3\n  - *a\nsection:\n  wait: 2s\nopt: {on: true}\non: true\n"
	var v doc
	d, err := Decode("f.yml", []byte(in), &v)
	if err != nil {
		t.Fatal(err)
	}
	if want := []item{{"a", 1}, {"b", 3}, {"a", 1}}; !slices.Equal(v.Items, want) {
		t.Errorf("items %v, want %v (defaults, aliases)", v.Items, want)
	}
	if time.Duration(v.Section.Wait) != 2*time.Second || v.Opt == nil || !v.Opt.On || !v.Common.On || v.Tags != nil {
		t.Errorf("decoded %+v", v)
	}
	for _, tc := range []struct {
		name  string
		field any
		line  int
		set   bool
	}{
		{"element", &v.Items[1], 4, true},
		{"key in element", &v.Items[1].Size, 5, true},
		{"absent key in element", &v.Items[0].Size, 2, false},
		{"section", &v.Section, 8, true},
		{"absent key in section", &v.Section.On, 8, false},
		{"pointer section", &v.Opt, 9, true},
		{"key in pointer section", &v.Opt.On, 9, true},
		{"inline key", &v.Common.On, 10, true},
		{"absent top-level key", &v.Tags, 1, false},
	} {
		if line, set := d.Line(tc.field), d.Set(tc.field); line != tc.line || set != tc.set {
			t.Errorf("%s: line %d set %v, want %d %v", tc.name, line, set, tc.line, tc.set)
		}
	}
	d.Errorf(&v.Items[1].Size, "size %d", v.Items[1].Size)
	d.Errorf(&v.Items[1].Size, "size %d", v.Items[1].Size) // once
	d.Warnf(7, "section")
	if err, w := d.Err(), d.Warnings(); err == nil || err.Error() != "f.yml:5: size 3" || !slices.Equal(w, []string{"f.yml:7: section"}) {
		t.Errorf("errors %v, warnings %q", err, w)
	}
}

func TestValidateOutsideAFile(t *testing.T) {
	if err := Validate(check{}); err == nil || err.Error() != "bad\nworse" {
		t.Errorf("error %v, want the reasons without positions", err)
	}
}

type check struct{}

func (check) Validate(d *Decoder) { d.Errorf(3, "bad"); d.Errorf(nil, "worse") }
