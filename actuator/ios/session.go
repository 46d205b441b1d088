package ios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scrapli/scrapligo/driver/network"
	"github.com/scrapli/scrapligo/driver/opoptions"

	"github.com/slaroute/slaroute/actuator/route"
)

// errCLI marks output in which the device reported a command error.
var errCLI = errors.New("device rejected command")

// run executes f on the session, opening one if needed, with a deadline
// taken from ctx (at most the timeout). scrapligo v1 knows no context: f
// runs in a goroutine, and a cancelled context closes the channel, which
// ends the blocked read. A CLI error leaves the session up; anything else
// (timeout, EOF, cancelled context) drops it and marks the device
// unavailable.
func (b *Backend) run(ctx context.Context, what string, f func(*network.Driver, time.Duration) error) error {
	d, err := b.session(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	timeout := b.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		err = context.DeadlineExceeded
	} else {
		done := make(chan error, 1)
		go func() { done <- f(d, timeout) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			_ = d.Channel.Close()
			<-done
			err = ctx.Err()
		}
	}
	b.m.CommandDuration.Observe(time.Since(start).Seconds())
	if err == nil {
		return nil
	}
	if errors.Is(err, errCLI) {
		b.m.CLIErrors.Inc()
		return fmt.Errorf("%s: %w", what, err)
	}
	_ = b.drop(true)
	return fmt.Errorf("%s: %w: %w", what, route.ErrUnavailable, err)
}

// command runs one exec-mode command and returns its output.
func (b *Backend) command(ctx context.Context, cmd string) (string, error) {
	var out string
	err := b.run(ctx, cmd, func(d *network.Driver, t time.Duration) error {
		r, err := d.SendCommand(cmd, opoptions.WithTimeoutOps(t))
		if err != nil {
			return err
		}
		if r.Failed != nil {
			return cliError{cmd: cmd, out: r.Result}
		}
		out = r.Result
		return nil
	})
	return out, err
}

// send configures lines in one batch: it enters configuration mode, sends
// lines, stopping at the first rejected one, and returns to exec mode.
func (b *Backend) send(ctx context.Context, lines []string) error {
	what := fmt.Sprintf("configure %d lines", len(lines))
	err := b.run(ctx, what, func(d *network.Driver, t time.Duration) error {
		mr, err := d.SendConfigs(lines, opoptions.WithTimeoutOps(t), opoptions.WithStopOnFailed())
		if err != nil {
			return err
		}
		// Leave configuration mode even after a rejected line.
		if err := d.AcquirePriv(d.DefaultDesiredPriv); err != nil {
			return err
		}
		for _, r := range mr.Responses {
			if r.Failed != nil {
				return cliError{cmd: r.Input, out: r.Result}
			}
		}
		return nil
	})
	if err == nil {
		b.logger.Info("Sent IOS route change", "lines", lines)
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
