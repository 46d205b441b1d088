package ios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scrapli/scrapligo/driver/network"
	"github.com/scrapli/scrapligo/driver/opoptions"
	"github.com/scrapli/scrapligo/util"
)

// errCLI marks output in which the device reported a command error.
var errCLI = errors.New("device rejected command")

// session is one open scrapligo connection. scrapligo v1 knows no context:
// each call runs in a goroutine, and a cancelled context closes the driver,
// which ends the blocked read; the session is then dead and gets reopened.
type session struct {
	d      *network.Driver
	broken bool
}

// run executes f with a deadline taken from ctx (or fallback).
func (s *session) run(ctx context.Context, fallback time.Duration, f func(timeout time.Duration) error) error {
	timeout := fallback
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		s.broken = true
		return context.DeadlineExceeded
	}
	done := make(chan error, 1)
	go func() { done <- f(timeout) }()
	select {
	case err := <-done:
		if err != nil {
			s.broken = true
		}
		return err
	case <-ctx.Done():
		s.broken = true
		_ = s.d.Channel.Close()
		<-done
		return ctx.Err()
	}
}

// command runs one exec-mode command and returns its output.
func (s *session) command(ctx context.Context, timeout time.Duration, cmd string) (string, error) {
	var out string
	err := s.run(ctx, timeout, func(t time.Duration) error {
		r, err := s.d.SendCommand(cmd, opoptions.WithTimeoutOps(t))
		if err != nil {
			return err
		}
		out = r.Result
		if r.Failed != nil {
			return cliError{cmd: cmd, out: r.Result}
		}
		return nil
	})
	if errors.As(err, new(cliError)) {
		s.broken = false // the session is fine; the device said no
	}
	return out, err
}

// configure enters configuration mode, sends lines, stopping at the first
// rejected one, and returns to exec mode.
func (s *session) configure(ctx context.Context, timeout time.Duration, lines []string) error {
	err := s.run(ctx, timeout, func(t time.Duration) error {
		mr, err := s.d.SendConfigs(lines, opoptions.WithTimeoutOps(t), opoptions.WithStopOnFailed())
		if err != nil {
			return err
		}
		var cerr error
		for _, r := range mr.Responses {
			if r.Failed != nil {
				cerr = cliError{cmd: r.Input, out: r.Result}
				break
			}
		}
		// Leave configuration mode even after a rejected line.
		if err := s.d.AcquirePriv(s.d.DefaultDesiredPriv); err != nil {
			return err
		}
		return cerr
	})
	if errors.As(err, new(cliError)) {
		s.broken = false
	}
	return err
}

// close ends the session; a healthy one is left with `exit` as the
// platform says, a broken one is just torn down.
func (s *session) close() error {
	var err error
	if s.broken {
		err = s.d.Driver.Close()
	} else {
		err = s.d.Close()
	}
	if errors.Is(err, util.ErrConnectionError) {
		return nil
	}
	return err
}

// cliError carries the rejected command and the device's answer. The
// command is one we rendered from netip values, so it holds no secret.
type cliError struct {
	cmd, out string
}

func (e cliError) Error() string {
	return fmt.Sprintf("%v: %q: %s", errCLI, e.cmd, firstErrorLine(e.out))
}

func (e cliError) Unwrap() error { return errCLI }

// firstErrorLine picks the device's `% ...` message out of its output.
func firstErrorLine(out string) string {
	for l := range strings.Lines(out) {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "%") {
			return l
		}
	}
	return strings.TrimSpace(out)
}
