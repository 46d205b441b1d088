package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/slaroute/slaroute/actuator/dampening"
)

// FileName is the state file's name under --storage.path.
const FileName = "route_actuator.json"

// Test hooks: a crash between writing and renaming, a failing rename.
var (
	afterSync = func() {}
	rename    = os.Rename
)

// Load reads dir's state file. A missing file is the empty state of a first
// start; anything unreadable is an error naming the file, never a silent
// reset: drains are promises to operators. Temporary files of an
// interrupted Save are ignored.
func Load(dir string) (State, error) {
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{Version: Version}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("reading state file: %w", err)
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return State{}, fmt.Errorf("state file %s is corrupt (%v); move it away to start without drains and penalties", path, err)
	}
	switch {
	case head.Version == nil || *head.Version < 1:
		return State{}, fmt.Errorf("state file %s has no valid version; move it away to start without drains and penalties", path)
	case *head.Version > Version:
		return State{}, fmt.Errorf("state file %s has version %d, newer than this route_actuator understands (%d): run the newer release or move the file away", path, *head.Version, Version)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("state file %s is corrupt (%v); move it away to start without drains and penalties", path, err)
	}
	for i, d := range s.Drains {
		if !d.Nexthop.IsValid() || d.Reason == "" || d.Created.IsZero() {
			return State{}, fmt.Errorf("state file %s: drain %d lacks nexthop, reason or created", path, i)
		}
	}
	if err := dampening.CheckRecords(s.Dampening); err != nil {
		return State{}, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// Save writes s atomically: a temporary file in dir, fsync, rename over the
// state file, fsync dir (Prometheus' tsdb/fileutil.Replace). A crash leaves
// the old or the new file, never a mix; an error removes the temporary file.
func Save(dir string, s State) (err error) {
	s.Version = Version
	if s.Drains == nil {
		s.Drains = []Drain{}
	}
	if s.Dampening == nil {
		s.Dampening = []dampening.Record{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating storage directory: %w", err)
	}
	// Temporary files a crashed Save left behind.
	stale, _ := fs.Glob(os.DirFS(dir), FileName+".tmp-*")
	for _, name := range stale {
		os.Remove(filepath.Join(dir, name))
	}
	f, err := os.CreateTemp(dir, FileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	// Without it a host crash after the rename can leave an empty file.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	afterSync()
	if err := rename(tmp, filepath.Join(dir, FileName)); err != nil {
		return fmt.Errorf("replacing state file: %w", err)
	}
	// The rename is durable only once the directory is.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing storage directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing storage directory: %w", err)
	}
	return nil
}
