package main

// These tests check what `make release` left in dist/ (SLAROUTE_DIST): `make
// test-release` runs them after building it. They install the amd64 packages
// the way the README's Quick start does, as far as that goes without a
// running systemd: dpkg-deb -x and dpkg --root into scratch roots, then the
// packaged binaries, units, rules and example configurations are checked by
// the tools that consume them.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(t *testing.T) (dist, root, version string) {
	t.Helper()
	dist, root = os.Getenv("SLAROUTE_DIST"), os.Getenv("SLAROUTE_ROOT")
	if dist == "" || root == "" {
		t.Fatal("SLAROUTE_DIST and SLAROUTE_ROOT unset: run `make test-release`")
	}
	v, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return dist, root, strings.TrimSpace(string(v))
}

// need fails (CI=true) or skips the test when tool is missing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (run make deps)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
}

// cmdOut runs a command and returns its stdout; it fails the test on a non-zero exit.
func cmdOut(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

var arches = []string{"amd64", "arm64"}

func TestArtefactsAndChecksums(t *testing.T) {
	dist, _, version := env(t)
	need(t, "sha256sum")
	var want []string
	for _, a := range arches {
		want = append(want, "slaroute_"+version+"_linux_"+a+".tar.gz")
		for _, b := range Binaries {
			want = append(want, PackageName(b)+"_"+version+"_"+a+".deb")
		}
	}
	slices.Sort(want)
	ents, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		if e.Name() != "SHA256SUMS" {
			got = append(got, e.Name())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("dist/ holds %q, want %q and SHA256SUMS", got, want)
	}
	// sha256sum -c checks every listed file; every artefact must be listed.
	out := cmdOut(t, dist, "sha256sum", "--strict", "-c", "SHA256SUMS")
	if n := strings.Count(out, ": OK\n"); n != len(want) {
		t.Errorf("sha256sum -c verified %d files, want %d:\n%s", n, len(want), out)
	}
	// A changed artefact is caught: the check is not vacuous.
	tmp := t.TempDir()
	sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	os.WriteFile(filepath.Join(tmp, "SHA256SUMS"), sums, 0o644)
	for _, n := range want {
		os.WriteFile(filepath.Join(tmp, n), []byte("not the artefact"), 0o644)
	}
	cmd := exec.Command("sha256sum", "--status", "-c", "SHA256SUMS")
	cmd.Dir = tmp
	if cmd.Run() == nil {
		t.Error("sha256sum -c accepted altered artefacts")
	}
}

// readTar returns the tarball's regular files by name (without the top directory) with mode and content.
func readTar(t *testing.T, file, top string) map[string]*tar.Header {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(h.Name, top+"/")
		if !ok {
			t.Errorf("%s: %s outside %s/", file, h.Name, top)
		}
		if h.Typeflag == tar.TypeReg {
			files[name] = h
		}
	}
	return files
}

func TestTarballs(t *testing.T) {
	dist, root, version := env(t)
	need(t, "tar", "promtool", "amtool")
	for _, arch := range arches {
		t.Run(arch, func(t *testing.T) {
			top := "slaroute_" + version + "_linux_" + arch
			members := readTar(t, filepath.Join(dist, top+".tar.gz"), top)
			want := []string{"LICENSE", "README.md", "CHANGELOG.md", "rules/dns_sla.rules.yml", "rules/dns_sla.alerts.yml",
				"rules/route_actuator.alerts.yml", "dashboards/dns-sla.json", "dashboards/route-actuator.json",
				"deploy/examples/dns_sla_exporter.yml", "deploy/examples/route_actuator.yml",
				"deploy/systemd/dns_sla_exporter.service", "deploy/systemd/route_actuator.service",
				"deploy/prometheus/prometheus.yml", "deploy/alertmanager/alertmanager.yml"}
			for _, g := range TarballFiles { // and everything the globs name today
				m, _ := globTree(root, g)
				want = append(want, m...)
			}
			for _, w := range want {
				if members[w] == nil {
					t.Errorf("%s: no %s", top, w)
				}
			}
			for _, b := range Binaries {
				if h := members[b]; h == nil || h.Mode != 0o755 {
					t.Errorf("%s: %s missing or not mode 0755", top, b)
				}
			}
			dir := t.TempDir()
			cmdOut(t, dir, "tar", "xzf", filepath.Join(dist, top+".tar.gz"))
			x := filepath.Join(dir, top)
			for _, b := range Binaries {
				f, err := elf.Open(filepath.Join(x, b))
				if err != nil {
					t.Fatal(err)
				}
				wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
				if f.Machine != wantMachine {
					t.Errorf("%s/%s: ELF machine %v, want %v", top, b, f.Machine, wantMachine)
				}
				for _, p := range f.Progs {
					if p.Type == elf.PT_INTERP {
						t.Errorf("%s/%s: dynamically linked, want a static binary", top, b)
					}
				}
				f.Close()
			}
			if arch != "amd64" {
				return
			}
			// The unpacked tarball is usable where it lies: binaries run, the
			// examples pass, the Prometheus example finds its rules.
			for _, b := range Binaries {
				if out := cmdOut(t, x, "./"+b, "--version"); !strings.HasPrefix(out, b+", version "+version+" ") {
					t.Errorf("%s --version: %q", b, out)
				}
			}
			cmdOut(t, x, "./dns_sla_exporter", "--config.check", "--config.file=deploy/examples/dns_sla_exporter.yml")
			cmdOut(t, x, "./route_actuator", "--config.check", "--config.file=deploy/examples/route_actuator.yml")
			if out := cmdOut(t, x, "promtool", "check", "config", "deploy/prometheus/prometheus.yml"); !strings.Contains(out, "rules/dns_sla.alerts.yml") {
				t.Errorf("promtool check config did not load the tarball's rules:\n%s", out)
			}
			cmdOut(t, x, "amtool", "check-config", "deploy/alertmanager/alertmanager.yml")
		})
	}
}

// debWant is what each amd64 package must hold, beyond what Spec lists.
var debWant = map[string]struct {
	files     []string
	conffiles []string
}{
	"dns_sla_exporter": {
		files: []string{"/usr/bin/dns_sla_exporter", "/usr/lib/systemd/system/dns_sla_exporter.service",
			"/etc/dns_sla_exporter/dns_sla_exporter.yml", "/usr/share/doc/dns-sla-exporter/copyright",
			"/usr/share/slaroute/rules/dns_sla.rules.yml", "/usr/share/slaroute/rules/dns_sla.alerts.yml",
			"/usr/share/slaroute/dashboards/dns-sla.json", "/usr/share/slaroute/examples/prometheus/prometheus.yml"},
		conffiles: []string{"/etc/dns_sla_exporter/dns_sla_exporter.yml"},
	},
	"route_actuator": {
		files: []string{"/usr/bin/route_actuator", "/usr/lib/systemd/system/route_actuator.service",
			"/etc/route_actuator/route_actuator.yml", "/etc/route_actuator/web-config.yml", "/usr/share/doc/route-actuator/copyright",
			"/usr/share/slaroute/rules/route_actuator.alerts.yml", "/usr/share/slaroute/dashboards/route-actuator.json",
			"/usr/share/slaroute/examples/alertmanager/alertmanager.yml"},
		conffiles: []string{"/etc/route_actuator/route_actuator.yml", "/etc/route_actuator/web-config.yml"},
	},
	"slaroutectl": {
		files: []string{"/usr/bin/slaroutectl", "/usr/share/doc/slaroutectl/copyright"},
	},
}

func debFile(dist, binary, version string) string {
	return filepath.Join(dist, PackageName(binary)+"_"+version+"_amd64.deb")
}

func TestDebContents(t *testing.T) {
	dist, root, version := env(t)
	need(t, "dpkg-deb", "sh")
	spec, err := Spec(root)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	for _, p := range spec {
		t.Run(p.Binary, func(t *testing.T) {
			deb := debFile(dist, p.Binary, version)
			for field, want := range map[string]string{"Package": PackageName(p.Binary), "Version": version,
				"Architecture": "amd64", "Section": "net", "Homepage": "https://github.com/slaroute/slaroute"} {
				if got := strings.TrimSpace(cmdOut(t, "", "dpkg-deb", "-f", deb, field)); got != want {
					t.Errorf("control %s: %q, want %q", field, got, want)
				}
			}
			for _, field := range []string{"Maintainer", "Description"} {
				if strings.TrimSpace(cmdOut(t, "", "dpkg-deb", "-f", deb, field)) == "" {
					t.Errorf("control %s empty", field)
				}
			}
			// Regular files: exactly Spec's, including every must-have.
			var got []string
			modes := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(cmdOut(t, "", "dpkg-deb", "-c", deb)), "\n") {
				f := strings.Fields(l)
				if len(f) < 6 || !strings.HasPrefix(f[0], "-") {
					continue
				}
				name := strings.TrimPrefix(f[5], ".")
				got = append(got, name)
				modes[name] = f[0] + " " + f[1]
				if o := owner[name]; o != "" {
					t.Errorf("%s is in both %s and %s", name, o, p.Binary)
				}
				owner[name] = p.Binary
			}
			var want []string
			for _, it := range p.Items {
				want = append(want, it.Dst)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("files:\n got %q\nwant %q", got, want)
			}
			for _, w := range debWant[p.Binary].files {
				if !slices.Contains(got, w) {
					t.Errorf("no %s", w)
				}
			}
			if m := modes["/usr/bin/"+p.Binary]; m != "-rwxr-xr-x root/root" {
				t.Errorf("/usr/bin/%s: %q, want -rwxr-xr-x root/root", p.Binary, m)
			}
			// Control area: conffiles and syntactically valid maintainer scripts.
			ctl := t.TempDir()
			cmdOut(t, "", "dpkg-deb", "-e", deb, ctl)
			cf, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
			if gotCf, wantCf := strings.Fields(string(cf)), debWant[p.Binary].conffiles; !slices.Equal(gotCf, wantCf) {
				t.Errorf("conffiles %q, want %q", gotCf, wantCf)
			}
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				f := filepath.Join(ctl, s)
				st, err := os.Stat(f)
				if p.Unit == "" {
					if err == nil {
						t.Errorf("%s without a unit", s)
					}
					continue
				}
				if err != nil || st.Mode()&0o111 == 0 {
					t.Errorf("%s missing or not executable", s)
					continue
				}
				cmdOut(t, "", "sh", "-n", f)
			}
		})
	}
}

// TestScratchInstall unpacks the three amd64 packages into one root and runs
// what they ship: the binaries (--version, --config.check on the packaged
// configs), the units (systemd-analyze verify, with the root's paths), the
// rules (promtool) and the Prometheus and Alertmanager examples.
func TestScratchInstall(t *testing.T) {
	dist, _, version := env(t)
	need(t, "dpkg-deb", "promtool", "amtool", "systemd-analyze")
	r := t.TempDir()
	for _, b := range Binaries {
		cmdOut(t, "", "dpkg-deb", "-x", debFile(dist, b, version), r)
	}
	for _, b := range Binaries {
		for flag, want := range map[string]string{"--version": b + ", version " + version + " ", "--help": "usage: " + b + " "} {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(filepath.Join(r, "usr/bin", b), flag)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil || !strings.HasPrefix(stdout.String(), want) || stderr.Len() != 0 {
				t.Errorf("%s %s: %v, stdout %q, stderr %q (want stdout %q..., exit 0, nothing on stderr)", b, flag, err, stdout.String(), stderr.String(), want)
			}
		}
	}
	for _, b := range []string{"dns_sla_exporter", "route_actuator"} {
		cmdOut(t, "", filepath.Join(r, "usr/bin", b), "--config.check", "--config.file="+filepath.Join(r, "etc", b, b+".yml"))
		// The --config.check is not vacuous: a broken configuration fails.
		bad := filepath.Join(t.TempDir(), "bad.yml")
		os.WriteFile(bad, []byte("no_such_key: 1\n"), 0o644)
		if err := exec.Command(filepath.Join(r, "usr/bin", b), "--config.check", "--config.file="+bad).Run(); err == nil {
			t.Errorf("%s --config.check accepted %s", b, bad)
		}

		// The unit names the packaged binary and configuration files; verify
		// a copy pointed into the scratch root.
		unit, err := os.ReadFile(filepath.Join(r, "usr/lib/systemd/system", b+".service"))
		if err != nil {
			t.Fatal(err)
		}
		u := string(unit)
		if strings.Contains(u, "/usr/local/") || strings.Contains(u, "/etc/slaroute/") {
			t.Errorf("%s.service names a hand-install path:\n%s", b, u)
		}
		for _, p := range regexp.MustCompile(`(?:^|[ =])(/(?:usr/bin|etc)/[^ \n\\]+)`).FindAllStringSubmatch(execStart(u), -1) {
			if _, err := os.Stat(filepath.Join(r, p[1])); err != nil {
				t.Errorf("%s.service ExecStart names %s, not in the package: %v", b, p[1], err)
			}
		}
		udir := t.TempDir()
		u = strings.NewReplacer("/usr/bin/"+b, r+"/usr/bin/"+b, "/etc/"+b+"/", r+"/etc/"+b+"/").Replace(u)
		os.WriteFile(filepath.Join(udir, b+".service"), []byte(u), 0o644)
		var out bytes.Buffer
		cmd := exec.Command("systemd-analyze", "verify", filepath.Join(udir, b+".service"))
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil || out.Len() != 0 {
			t.Errorf("systemd-analyze verify %s.service: %v\n%s", b, err, out.String())
		}
	}
	// The packaged configurations and actuator examples name the package's paths.
	for _, g := range []string{"etc/*/*.yml", "usr/share/slaroute/examples/route_actuator*.yml"} {
		m, _ := filepath.Glob(filepath.Join(r, g))
		if len(m) == 0 {
			t.Errorf("no %s in the packages", g)
		}
		for _, f := range m {
			if b, _ := os.ReadFile(f); bytes.Contains(b, []byte("/etc/slaroute/")) {
				t.Errorf("%s names the hand install's /etc/slaroute/", strings.TrimPrefix(f, r))
			}
		}
	}
	share := filepath.Join(r, "usr/share/slaroute")
	rules, _ := filepath.Glob(filepath.Join(share, "rules/*.yml"))
	if len(rules) < 3 {
		t.Errorf("rules in %s: %q", share, rules)
	}
	cmdOut(t, "", "promtool", append([]string{"check", "rules"}, rules...)...)
	if out := cmdOut(t, "", "promtool", "check", "config", filepath.Join(share, "examples/prometheus/prometheus.yml")); !strings.Contains(out, "route_actuator.alerts.yml") {
		t.Errorf("the packaged prometheus.yml does not find the packaged rules:\n%s", out)
	}
	// Every Prometheus and Alertmanager example as packaged (site-local,
	// existing-stack jobs, federation, router pair, ...).
	for tool, g := range map[string]string{"promtool": "examples/prometheus/*.yml", "amtool": "examples/alertmanager/*.yml"} {
		m, _ := filepath.Glob(filepath.Join(share, g))
		if len(m) == 0 {
			t.Errorf("no %s in the packages", g)
		}
		for _, f := range m {
			if tool == "promtool" {
				cmdOut(t, "", "promtool", "check", "config", f)
			} else {
				cmdOut(t, "", "amtool", "check-config", f)
			}
		}
	}
}

// execStart returns the unit's ExecStart command with continuation lines joined.
func execStart(unit string) string {
	i := strings.Index(unit, "\nExecStart=")
	if i < 0 {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(unit[i+1:], "\n") {
		b.WriteString(strings.TrimSuffix(l, "\\") + " ")
		if !strings.HasSuffix(l, "\\") {
			break
		}
	}
	return b.String()
}

// TestDpkgRoot installs, upgrades in place, removes and purges the amd64
// packages with dpkg itself in a scratch administrative root: dpkg accepts
// the names, versions and conffiles, keeps an edited conffile over a
// reinstall and on remove, and deletes it on purge. The maintainer scripts
// run chrootless with DPKG_ROOT set and must not touch the running system.
func TestDpkgRoot(t *testing.T) {
	dist, _, version := env(t)
	need(t, "dpkg", "dpkg-query")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("dpkg --root needs root")
		}
		t.Skip("dpkg --root needs root")
	}
	r := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log"} {
		os.MkdirAll(filepath.Join(r, d), 0o755)
	}
	os.WriteFile(filepath.Join(r, "var/lib/dpkg/status"), nil, 0o644)
	os.WriteFile(filepath.Join(r, "var/lib/dpkg/available"), nil, 0o644)
	dpkg := func(args ...string) string {
		return cmdOut(t, "", "dpkg", append([]string{"--root=" + r, "--force-script-chrootless", "--log=/dev/null"}, args...)...)
	}
	var debs []string
	for _, b := range Binaries {
		debs = append(debs, debFile(dist, b, version))
	}
	dpkg(append([]string{"-i"}, debs...)...)
	status := func(pkg string) string {
		return strings.TrimSpace(cmdOut(t, "", "dpkg-query", "--root="+r, "-W", "-f=${Version} ${Status}", pkg))
	}
	for _, b := range Binaries {
		if got := status(PackageName(b)); got != version+" install ok installed" {
			t.Errorf("%s: %q, want installed at %s", PackageName(b), got, version)
		}
		if _, err := os.Stat(filepath.Join(r, "usr/bin", b)); err != nil {
			t.Error(err)
		}
	}
	conf := filepath.Join(r, "etc/route_actuator/route_actuator.yml")
	edited := []byte("# edited by the operator\n")
	if err := os.WriteFile(conf, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg("-i", debFile(dist, "route_actuator", version)) // reinstall: the edit stays
	if b, _ := os.ReadFile(conf); !bytes.Equal(b, edited) {
		t.Errorf("reinstall replaced the edited %s", conf)
	}
	dpkg("-r", "route-actuator")
	if got := status("route-actuator"); got != version+" deinstall ok config-files" {
		t.Errorf("after remove: %q", got)
	}
	if _, err := os.Stat(filepath.Join(r, "usr/bin/route_actuator")); err == nil {
		t.Error("remove left /usr/bin/route_actuator")
	}
	if b, _ := os.ReadFile(conf); !bytes.Equal(b, edited) {
		t.Errorf("remove did not keep the edited %s", conf)
	}
	dpkg("--purge", "route-actuator", "dns-sla-exporter", "slaroutectl")
	for _, f := range []string{conf, filepath.Join(r, "etc/dns_sla_exporter/dns_sla_exporter.yml"), filepath.Join(r, "usr/bin/slaroutectl")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("purge left %s", f)
		}
	}
}

// repoRoot is SLAROUTE_ROOT, or the repository above this directory.
func repoRoot() string {
	if r := os.Getenv("SLAROUTE_ROOT"); r != "" {
		return r
	}
	return "../.."
}

// packagedPath reports whether p (a path, a directory or a glob) names files the packages ship.
func packagedPath(spec []Package, p string) bool {
	p = strings.TrimSuffix(p, "/")
	for _, pkg := range spec {
		for _, it := range pkg.Items {
			if it.Dst == p || strings.HasPrefix(it.Dst, p+"/") {
				return true
			}
			if ok, _ := filepath.Match(p, it.Dst); ok {
				return true
			}
		}
	}
	return false
}

var installedPath = regexp.MustCompile(`/(?:usr/bin|usr/share/slaroute|usr/lib/systemd/system|etc/dns_sla_exporter|etc/route_actuator)(?:/[A-Za-z0-9_.*-]+)*/?`)

// TestReadme holds the README to the front door it promises: at most 20 KB,
// the Quick start in its first 150 lines, links that resolve, installed paths
// that the packages ship, and the dry-run drop-in equal to the packaged
// unit's ExecStart plus --dry-run. docs/packages.md's paths are checked too.
func TestReadme(t *testing.T) {
	root := repoRoot()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if len(b) > 20*1024 {
		t.Errorf("README.md is %d bytes, over 20 KB: move reference to docs/", len(b))
	}
	lines := strings.Split(readme, "\n")
	qs := slices.Index(lines, "## Quick start")
	if qs < 0 || qs >= 150 {
		t.Errorf("README.md: \"## Quick start\" at line %d, want within the first 150", qs+1)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#]+)(#[^)]*)?\)`).FindAllStringSubmatch(readme, -1) {
		if strings.Contains(m[1], "://") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
			t.Errorf("README.md links to %s: %v", m[1], err)
		}
	}
	spec, err := Spec(root)
	if err != nil {
		t.Fatal(err)
	}
	quick, _, _ := strings.Cut(readme[strings.Index(readme, "## Quick start")+1:], "\n## ")
	pkgDoc, err := os.ReadFile(filepath.Join(root, "docs/packages.md"))
	if err != nil {
		t.Fatal(err)
	}
	for file, text := range map[string]string{"README.md Quick start": quick, "docs/packages.md": string(pkgDoc)} {
		n := 0
		for _, p := range installedPath.FindAllString(text, -1) {
			if strings.Contains(p, "service.d") || strings.HasSuffix(p, "<binary>") {
				continue
			}
			n++
			if !packagedPath(spec, p) {
				t.Errorf("%s names %s, which no package ships", file, p)
			}
		}
		if n < 5 {
			t.Errorf("%s names only %d installed paths: did the check find them?", file, n)
		}
	}
	// The dry-run drop-in.
	unit, err := PackageUnit(root, "route_actuator")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(strings.Fields(execStart(string(unit))), " ") + " --dry-run"
	m := regexp.MustCompile(`(?m)^\s*ExecStart=(/usr/bin/route_actuator .*)$`).FindStringSubmatch(quick)
	if m == nil {
		t.Fatal("README.md Quick start has no dry-run ExecStart= for /usr/bin/route_actuator")
	}
	if got := strings.Join(strings.Fields(m[1]), " "); "ExecStart="+got != want {
		t.Errorf("README.md dry-run drop-in:\n got ExecStart=%s\nwant %s", got, want)
	}
}

// TestQuickStartDryRun follows the README's Quick start from the packages
// as far as it goes without systemd: in a network namespace made here, the
// packaged dns_sla_exporter runs its unit's ExecStart and route_actuator the
// README's dry-run ExecStart, both on the packaged configurations (paths
// moved into the scratch root); the webhook password the package ships
// (`change-me`) is required and accepted, and slaroutectl status answers.
func TestQuickStartDryRun(t *testing.T) {
	dist, root, version := env(t)
	need(t, "dpkg-deb", "ip", "curl")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("network namespaces need root")
		}
		t.Skip("network namespaces need root")
	}
	r := t.TempDir()
	for _, b := range Binaries {
		cmdOut(t, "", "dpkg-deb", "-x", debFile(dist, b, version), r)
	}
	ns := "srel" + strconv.Itoa(os.Getpid())
	cmdOut(t, "", "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	cmdOut(t, "", "ip", "-n", ns, "link", "set", "lo", "up")
	inRoot := func(cmdline string) []string {
		f := strings.Fields(strings.TrimPrefix(cmdline, "ExecStart="))
		for i := range f {
			f[i] = regexp.MustCompile(`^(--[a-z.-]+=)?/`).ReplaceAllString(f[i], "${1}"+r+"/")
		}
		return f
	}
	start := func(args []string) *bytes.Buffer {
		var out bytes.Buffer
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("%s:\n%s", args[0], out.String())
			}
		})
		return &out
	}
	curl := func(args ...string) (code, body string) {
		out, _ := exec.Command("ip", append([]string{"netns", "exec", ns, "curl", "-s", "-m", "2", "-w", "\n%{http_code}"}, args...)...).Output()
		s := string(out)
		i := strings.LastIndex(s, "\n")
		return s[i+1:], s[:max(i, 0)]
	}
	poll := func(want string, args ...string) string {
		t.Helper()
		var code, body string
		for range 100 {
			if code, body = curl(args...); code == want {
				return body
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("curl %s: HTTP %s, want %s\n%s", strings.Join(args, " "), code, want, body)
		return ""
	}

	// The exporter: its packaged unit's ExecStart.
	unit, err := os.ReadFile(filepath.Join(r, "usr/lib/systemd/system/dns_sla_exporter.service"))
	if err != nil {
		t.Fatal(err)
	}
	start(inRoot(execStart(string(unit))))
	body := poll("200", "http://127.0.0.1:9753/metrics")
	if n := strings.Count(body, "\ndns_sla_up{"); n != 3 {
		t.Errorf("the packaged exporter configuration gives %d dns_sla_up series, want the example's 3", n)
	}

	// route_actuator: the README's dry-run drop-in.
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(ExecStart=/usr/bin/route_actuator .*--dry-run.*)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("README.md has no dry-run ExecStart for route_actuator")
	}
	start(inRoot(m[1]))
	poll("401", "http://127.0.0.1:9754/api/v1/routes")
	body = poll("200", "-u", "alertmanager:change-me", "http://127.0.0.1:9754/api/v1/routes")
	for _, want := range []string{`"dry_run": true`, `"prefix": "192.0.2.53/32"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/api/v1/routes lacks %s:\n%s", want, body)
		}
	}
	if code, _ := curl("-u", "alertmanager:wrong", "http://127.0.0.1:9754/api/v1/routes"); code != "401" {
		t.Errorf("a wrong password got HTTP %s, want 401", code)
	}
	pw := filepath.Join(t.TempDir(), "route_actuator.password")
	os.WriteFile(pw, []byte("change-me\n"), 0o600)
	out := cmdOut(t, "", "ip", "netns", "exec", ns, filepath.Join(r, "usr/bin/slaroutectl"),
		"--basic-auth.username=alertmanager", "--basic-auth.password-file="+pw, "status")
	if !strings.Contains(out, "192.0.2.53/32") {
		t.Errorf("slaroutectl status does not show the route:\n%s", out)
	}
	if routes := cmdOut(t, "", "ip", "-n", ns, "route", "show", "192.0.2.53/32"); strings.TrimSpace(routes) != "" {
		t.Errorf("the dry run installed a route: %s", routes)
	}
}
