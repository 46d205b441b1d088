package state

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slaroute/slaroute/actuator/dampening"
)

func sample() State {
	return State{Version: Version,
		Drains:    []Drain{{Nexthop: nh12, Route: svc, Reason: "kernel upgrade", Who: "alice", Created: t0, Expires: t0.Add(3 * time.Hour)}},
		Dampening: []dampening.Record{{Route: svc, Nexthop: nh13, Penalty: 2932.5, Updated: t0, Suppressed: true, Flaps: 3}},
	}
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Save creates it
	s, err := Load(dir)
	if err != nil || s.Version != Version || len(s.Drains) != 0 {
		t.Fatalf("first start: %+v, %v", s, err)
	}
	if err := Save(dir, sample()); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sample()) {
		t.Errorf("round trip\n got: %+v\nwant: %+v", got, sample())
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(b), `"version": 1`) || !strings.Contains(string(b), `"route": "192.0.2.53/32"`) {
		t.Errorf("file is not the documented JSON:\n%s", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d files, want only %s", len(entries), FileName)
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"future version", `{"version": 2, "drains": [], "dampening": [], "quota": 3}`, "has version 2, newer than this route_actuator understands (1)"},
		{"no version", `{"drains": []}`, "has no valid version"},
		{"truncated", `{"version": 1, "drains": [{"nexthop": "198.51`, "is corrupt"},
		{"not json", "\x00\x00\x00", "is corrupt"},
		{"unknown field", `{"version": 1, "drains": [], "dampening": [], "extra": 1}`, `is corrupt (json: unknown field "extra")`},
		{"bad address", `{"version": 1, "drains": [{"nexthop": "dns1", "reason": "r", "who": "w", "created": "2026-12-04T03:12:00Z"}], "dampening": []}`, "is corrupt"},
		{"negative penalty", `{"version": 1, "drains": [], "dampening": [{"route": "192.0.2.53/32", "nexthop": "198.51.100.13", "penalty": -5, "updated": "2026-12-04T03:12:00Z", "flaps": 1}]}`, "invalid penalty -5"},
		{"drain without reason", `{"version": 1, "drains": [{"nexthop": "198.51.100.12", "who": "w", "created": "2026-12-04T03:12:00Z"}], "dampening": []}`, "drain 0 lacks nexthop, reason or created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, FileName), []byte(tc.content), 0o644)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
				t.Errorf("err %v, want one naming the file and %q", err, tc.want)
			}
		})
	}
}

// A failing rename keeps the old file and removes the temporary one.
func TestSaveErrorKeepsOld(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, sample()); err != nil {
		t.Fatal(err)
	}
	rename = func(string, string) error { return errors.New("disk on fire") }
	defer func() { rename = os.Rename }()
	if err := Save(dir, State{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err %v", err)
	}
	if got, err := Load(dir); err != nil || !reflect.DeepEqual(got, sample()) {
		t.Errorf("after a failed save: %+v, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left: %v", entries)
	}
}

// A process killed (SIGKILL) between writing the new state and renaming it
// leaves the old state readable; its temporary file is ignored by Load and
// removed by the next Save.
func TestCrashDuringSave(t *testing.T) {
	if dir := os.Getenv("STATE_CRASH_DIR"); dir != "" {
		afterSync = func() {
			fmt.Println("synced")
			select {} // killed here
		}
		Save(dir, State{Drains: []Drain{{Nexthop: nh11, Reason: "new", Who: "w", Created: t0}}})
		return
	}
	dir := t.TempDir()
	if err := Save(dir, sample()); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringSave$")
	cmd.Env = append(os.Environ(), "STATE_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "synced\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("want the state file and a temporary file, have %v", entries)
	}
	got, err := Load(dir)
	if err != nil || !reflect.DeepEqual(got, sample()) {
		t.Errorf("after the crash: %+v, %v; want the old state", got, err)
	}
	next := State{Drains: []Drain{{Nexthop: netip.MustParseAddr("198.51.100.13"), Reason: "after", Who: "w", Created: t0}}}
	if err := Save(dir, next); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("stale temporary file not removed: %v", entries)
	}
	if got, err := Load(dir); err != nil || len(got.Drains) != 1 || got.Drains[0].Reason != "after" {
		t.Errorf("after the next save: %+v, %v", got, err)
	}
}
