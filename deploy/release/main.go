// Command release turns binaries built per architecture into slaroute's
// release artefacts (docs/packages.md): one tarball per architecture, one
// Debian package per binary and architecture (built with nfpm), and
// SHA256SUMS. `make release` builds the binaries and runs it; `make
// test-release` checks the result (release_test.go).
//
// It lives in its own module so that nfpm's dependencies stay out of the
// product's go.mod.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

// Binaries are the programs released, in order.
var Binaries = []string{"dns_sla_exporter", "route_actuator", "slaroutectl"}

// PackageName is the Debian package that ships binary: Debian package names
// may not contain underscores.
func PackageName(binary string) string { return strings.ReplaceAll(binary, "_", "-") }

// Share is where every package puts rules, dashboards and examples.
const Share = "/usr/share/slaroute"

// Item is one file a package ships: Src relative to the repository root (or
// absolute for a generated file), Dst absolute in the installed system.
type Item struct {
	Src, Dst string
	Mode     os.FileMode
	Conffile bool
}

// Package is one .deb.
type Package struct {
	Binary      string
	Description string
	Items       []Item
	// Unit is the systemd unit shipped, empty for none.
	Unit string
}

// Spec is what each package ships. Shared files are split so no two packages
// own the same path: the exporter's package holds its rules, its dashboard
// and the Prometheus and Grafana examples; the actuator's holds its alerts,
// its dashboard, the runbook and the Alertmanager example.
func Spec(root string) ([]Package, error) {
	own := map[string][]string{ // binary -> repository globs shipped under Share
		"dns_sla_exporter": {"rules/dns_sla*.yml", "dashboards/dns-sla*.json", "deploy/prometheus/**", "deploy/grafana/**"},
		"route_actuator":   {"rules/route_actuator*.yml", "rules/runbook.md", "dashboards/route-actuator*.json", "deploy/alertmanager/**", "deploy/examples/route_actuator_*.yml"},
	}
	// Every rule file and dashboard must be shipped by exactly one package.
	claimed := map[string]string{}
	var pkgs []Package
	for _, b := range Binaries {
		p := Package{Binary: b, Description: descriptions[b]}
		p.Items = append(p.Items,
			Item{Src: "bin/" + b, Dst: "/usr/bin/" + b, Mode: 0o755},
			Item{Src: "LICENSE", Dst: "/usr/share/doc/" + PackageName(b) + "/copyright", Mode: 0o644},
		)
		if _, err := os.Stat(filepath.Join(root, "deploy/systemd", b+".service")); err == nil {
			p.Unit = "/usr/lib/systemd/system/" + b + ".service"
			p.Items = append(p.Items, Item{Src: "unit:" + b, Dst: p.Unit, Mode: 0o644})
		}
		if _, err := os.Stat(filepath.Join(root, "deploy/examples", b+".yml")); err == nil {
			p.Items = append(p.Items, Item{Src: "deploy/examples/" + b + ".yml", Dst: "/etc/" + b + "/" + b + ".yml", Mode: 0o644, Conffile: true})
		}
		if b == "route_actuator" {
			// The unit's --web.config.file: basic auth for the webhook.
			p.Items = append(p.Items, Item{Src: "deploy/examples/web-config.yml", Dst: "/etc/route_actuator/web-config.yml", Mode: 0o644, Conffile: true})
		}
		for _, g := range own[b] {
			m, err := globTree(root, g)
			if err != nil {
				return nil, err
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("%s: no file matches %s", b, g)
			}
			for _, rel := range m {
				if other, ok := claimed[rel]; ok {
					return nil, fmt.Errorf("%s is shipped by both %s and %s", rel, other, b)
				}
				claimed[rel] = b
				p.Items = append(p.Items, Item{Src: rel, Dst: shareDst(rel), Mode: 0o644})
			}
		}
		pkgs = append(pkgs, p)
	}
	for _, g := range []string{"rules/*.yml", "dashboards/*.json"} {
		m, _ := globTree(root, g)
		for _, rel := range m {
			if claimed[rel] == "" {
				return nil, fmt.Errorf("%s is shipped by no package: add it to release's Spec", rel)
			}
		}
	}
	return pkgs, nil
}

// shareDst maps a repository path to its place under Share: rules/ and
// dashboards/ as they are, deploy/X to examples/X, so the Prometheus
// example's `../../rules/*.yml` still names the rules.
func shareDst(rel string) string {
	rel = filepath.ToSlash(rel)
	if r, ok := strings.CutPrefix(rel, "deploy/examples/"); ok {
		return path.Join(Share, "examples", r)
	}
	if r, ok := strings.CutPrefix(rel, "deploy/"); ok {
		return path.Join(Share, "examples", r)
	}
	return path.Join(Share, rel)
}

var descriptions = map[string]string{
	"dns_sla_exporter": "continuous DNS probes for Prometheus (slaroute)\n" +
		" Probes each DNS server every second and exports a per-server verdict\n" +
		" that Prometheus rules turn into alerts; route_actuator withdraws the\n" +
		" ECMP route of a failing server.",
	"route_actuator": "Alertmanager webhooks to ECMP routes (slaroute)\n" +
		" Withdraws and restores the equal-cost routes to a DNS service address\n" +
		" (Linux netlink, Cisco IOS over SSH, or BGP) from Alertmanager alerts.",
	"slaroutectl": "command-line client for route_actuator (slaroute)\n" +
		" Shows route status and why a route moved, manages drains, lists events.",
}

// PackageUnit is the systemd unit a package ships: the repository's unit
// (written for a hand install into /usr/local/bin and /etc/slaroute/) with
// the package's paths.
func PackageUnit(root, binary string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(root, "deploy/systemd", binary+".service"))
	if err != nil {
		return nil, err
	}
	s := string(b)
	for _, want := range []string{"/usr/local/bin/" + binary, "/etc/slaroute/"} {
		if !strings.Contains(s, want) {
			return nil, fmt.Errorf("deploy/systemd/%s.service: no %q to rewrite for the package", binary, want)
		}
	}
	// The hand-install note becomes the package's.
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "# Install:") {
			l = "# Packaged: /usr/bin/" + binary + ", configuration in /etc/" + binary + "/ (docs/packages.md)."
		}
		lines = append(lines, l)
	}
	s = strings.NewReplacer("/usr/local/bin/", "/usr/bin/", "/etc/slaroute/", "/etc/"+binary+"/").Replace(strings.Join(lines, "\n"))
	return []byte(s), nil
}

// Scripts: the units run with DynamicUser=yes, so there is no system user to
// create. Install makes systemd see the unit and starts nothing (the example
// configuration must be edited first); removal stops and disables it. Under
// `dpkg --root` (DPKG_ROOT set) they touch no running system.
func scripts(binary string) (postinst, prerm, postrm string) {
	guard := `[ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]`
	postinst = "#!/bin/sh\nset -e\n# " + binary + ".service runs with DynamicUser=yes: no system user to create.\n" +
		"if [ \"$1\" = configure ] && " + guard + "; then\n\tsystemctl daemon-reload || true\nfi\n"
	prerm = "#!/bin/sh\nset -e\nif [ \"$1\" = remove ] && " + guard + "; then\n\tsystemctl disable --now " + binary + ".service || true\nfi\n"
	postrm = "#!/bin/sh\nset -e\nif " + guard + "; then\n\tsystemctl daemon-reload || true\nfi\n"
	return
}

func main() {
	root := flag.String("root", "../..", "repository root")
	bin := flag.String("bin", "", "directory with linux_<arch>/<binary> (default <dist>/build)")
	dist := flag.String("dist", "../../dist", "output directory")
	version := flag.String("version", "", "release version (VERSION)")
	arches := flag.String("arch", "amd64 arm64", "architectures, separated by spaces or commas")
	flag.Parse()
	if *bin == "" {
		*bin = filepath.Join(*dist, "build")
	}
	if err := run(*root, *bin, *dist, *version, strings.Fields(strings.ReplaceAll(*arches, ",", " "))); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(root, bin, dist, version string, arches []string) error {
	if version == "" {
		return errors.New("-version is required")
	}
	mtime := time.Unix(0, 0).UTC()
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		mtime = time.Unix(n, 0).UTC()
	}
	pkgs, err := Spec(root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "slaroute-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var out []string
	for _, arch := range arches {
		archBin := filepath.Join(bin, "linux_"+arch)
		name := fmt.Sprintf("slaroute_%s_linux_%s.tar.gz", version, arch)
		if err := Tarball(filepath.Join(dist, name), root, archBin, strings.TrimSuffix(name, ".tar.gz"), mtime); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, name)
		for _, p := range pkgs {
			name, err := Deb(dist, root, archBin, tmp, p, version, arch, mtime)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.Binary, arch, err)
			}
			out = append(out, name)
		}
	}
	return Checksums(dist, out)
}

// TarballFiles are the repository paths (globs) a tarball holds besides the
// binaries, under the same relative paths, so the examples' relative
// references (prometheus.yml's ../../rules) and the README's links hold.
var TarballFiles = []string{"LICENSE", "README.md", "CHANGELOG.md", "VERSION", "docs/*.md",
	"rules/*.yml", "rules/runbook.md", "dashboards/*.json",
	"deploy/examples/*", "deploy/systemd/*", "deploy/prometheus/**", "deploy/alertmanager/**", "deploy/grafana/**"}

// Tarball writes the architecture's tarball: binaries at the top, then TarballFiles.
func Tarball(dst, root, archBin, prefix string, mtime time.Time) error {
	var members [][2]string // archive name, source
	for _, b := range Binaries {
		members = append(members, [2]string{b, filepath.Join(archBin, b)})
	}
	for _, g := range TarballFiles {
		m, err := globTree(root, g)
		if err != nil {
			return err
		}
		if len(m) == 0 {
			return fmt.Errorf("no file matches %s", g)
		}
		for _, rel := range m {
			members = append(members, [2]string{rel, filepath.Join(root, rel)})
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, m := range members {
		for d := path.Dir(m[0]); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	ds := slices.Sorted(func(yield func(string) bool) {
		for d := range dirs {
			if !yield(d) {
				return
			}
		}
	})
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/", Mode: 0o755, ModTime: mtime}); err != nil {
		return err
	}
	for _, d := range ds {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + "/" + d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
			return err
		}
	}
	for _, m := range members {
		b, err := os.ReadFile(m[1])
		if err != nil {
			return err
		}
		st, err := os.Stat(m[1])
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + "/" + m[0], Mode: mode, Size: int64(len(b)), ModTime: mtime, Uname: "root", Gname: "root"}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

// globTree expands g relative to root; a trailing /** is every regular file
// below the directory. The result is sorted and slash-separated.
func globTree(root, g string) ([]string, error) {
	var out []string
	if d, ok := strings.CutSuffix(g, "/**"); ok {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() {
				rel, _ := filepath.Rel(root, p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		sort.Strings(out)
		return out, err
	}
	m, err := filepath.Glob(filepath.Join(root, g))
	for _, f := range m {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			rel, _ := filepath.Rel(root, f)
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out, err
}

// Deb builds p for arch into dist and returns the file name.
func Deb(dist, root, archBin, tmp string, p Package, version, arch string, mtime time.Time) (string, error) {
	var contents files.Contents
	for _, it := range p.Items {
		src := filepath.Join(root, it.Src)
		switch {
		case strings.HasPrefix(it.Src, "bin/"):
			src = filepath.Join(archBin, strings.TrimPrefix(it.Src, "bin/"))
		case strings.HasPrefix(it.Src, "unit:"):
			u, err := PackageUnit(root, p.Binary)
			if err != nil {
				return "", err
			}
			src = filepath.Join(tmp, p.Binary+".service")
			if err := os.WriteFile(src, u, 0o644); err != nil {
				return "", err
			}
		}
		if strings.HasPrefix(it.Src, "deploy/examples/") && strings.HasSuffix(it.Src, ".yml") {
			// Examples name the hand install's /etc/slaroute/; the package's is /etc/<binary>/.
			b, err := os.ReadFile(src)
			if err != nil {
				return "", err
			}
			src = filepath.Join(tmp, p.Binary+"-"+filepath.Base(it.Src))
			if err := os.WriteFile(src, []byte(strings.ReplaceAll(string(b), "/etc/slaroute/", "/etc/"+p.Binary+"/")), 0o644); err != nil {
				return "", err
			}
		}
		typ := ""
		if it.Conffile {
			typ = files.TypeConfigNoReplace
		}
		contents = append(contents, &files.Content{Source: src, Destination: it.Dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: it.Mode, MTime: mtime}})
	}
	postinst, prerm, postrm := scripts(p.Binary)
	var sc nfpm.Scripts
	if p.Unit != "" {
		for _, s := range []struct {
			dst  *string
			name string
			body string
		}{{&sc.PostInstall, "postinst", postinst}, {&sc.PreRemove, "prerm", prerm}, {&sc.PostRemove, "postrm", postrm}} {
			f := filepath.Join(tmp, p.Binary+"."+s.name)
			if err := os.WriteFile(f, []byte(s.body), 0o755); err != nil {
				return "", err
			}
			*s.dst = f
		}
	}
	info := &nfpm.Info{
		Name:        PackageName(p.Binary),
		Arch:        arch,
		Platform:    "linux",
		Version:     version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  "slaroute maintainers <maintainers@slaroute.invalid>",
		Description: p.Description,
		Vendor:      "slaroute",
		Homepage:    "https://github.com/slaroute/slaroute",
		License:     "Apache-2.0",
		MTime:       mtime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts:  sc,
		},
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	name := pkg.ConventionalFileName(info)
	f, err := os.Create(filepath.Join(dist, name))
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := pkg.Package(info, f); err != nil {
		return "", err
	}
	return name, f.Close()
}

// Checksums writes dist/SHA256SUMS for names, in sha256sum's format.
func Checksums(dist string, names []string) error {
	var b strings.Builder
	for _, n := range names {
		f, err := os.Open(filepath.Join(dist, n))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), n)
	}
	return os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(b.String()), 0o644)
}
