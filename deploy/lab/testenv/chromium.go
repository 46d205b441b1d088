package testenv

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Chromium renders a local HTML file with Debian's headless chromium (it
// must be on PATH, else Missing) and returns the DOM after load and a
// screenshot of a width x height window. Each run gets its own profile
// directory; chromium and its helpers run in a process group of their own,
// killed by that group's id if they outlive the 60 s timeout.
func Chromium(t testing.TB, file string, width, height int) (dom string, shot image.Image) {
	t.Helper()
	bin := RequireTool(t, "chromium")
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(extra ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--no-first-run", "--disable-extensions", "--user-data-dir=" + filepath.Join(dir, "profile"),
			"--window-size=" + strconv.Itoa(width) + "," + strconv.Itoa(height)}, extra...)
		cmd := exec.CommandContext(ctx, bin, append(args, "file://"+abs)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
		}
		return stdout.Bytes()
	}
	dom = string(run("--dump-dom"))
	pngFile := filepath.Join(dir, "shot.png")
	run("--screenshot=" + pngFile)
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	if shot, err = png.Decode(f); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return dom, shot
}
