package bgp

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/osrg/gobgp/v3/pkg/log"
)

// logAdapter hands GoBGP's log lines to slog. GoBGP's informational
// messages (peer up/down) are worth keeping at info; its debug is chatty.
// The logger is swapped when a stopped speaker is reused by a new backend.
type logAdapter struct{ p *atomic.Pointer[slog.Logger] }

func (a logAdapter) log(level slog.Level, msg string, f log.Fields) {
	l := a.p.Load()
	if l == nil || !l.Enabled(context.Background(), level) {
		return
	}
	args := make([]any, 0, 2*len(f)+2)
	args = append(args, "component", "gobgp")
	for k, v := range f {
		args = append(args, k, v)
	}
	l.Log(context.Background(), level, msg, args...)
}

func (a logAdapter) Panic(msg string, f log.Fields) { a.log(slog.LevelError, msg, f); panic(msg) }
func (a logAdapter) Fatal(msg string, f log.Fields) { a.log(slog.LevelError, msg, f); panic(msg) }
func (a logAdapter) Error(msg string, f log.Fields) { a.log(slog.LevelError, msg, f) }
func (a logAdapter) Warn(msg string, f log.Fields)  { a.log(slog.LevelWarn, msg, f) }
func (a logAdapter) Info(msg string, f log.Fields)  { a.log(slog.LevelInfo, msg, f) }
func (a logAdapter) Debug(msg string, f log.Fields) { a.log(slog.LevelDebug, msg, f) }
func (a logAdapter) SetLevel(log.LogLevel)          {}

// GetLevel lets GoBGP skip building debug messages slog would drop.
func (a logAdapter) GetLevel() log.LogLevel {
	if l := a.p.Load(); l != nil && l.Enabled(context.Background(), slog.LevelDebug) {
		return log.DebugLevel
	}
	return log.InfoLevel
}
