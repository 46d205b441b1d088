// Package benchfmt holds what the bench mains under deploy/bench print alike:
// percentiles of measured durations, milliseconds, a program's version line.
package benchfmt

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pct sorts d in place and returns its p-th percentile (nearest rank below).
func Pct(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[(len(d)-1)*p/100]
}

// Ms formats d as milliseconds with one decimal.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// FirstLine is the first non-blank line of s (e.g. `vtysh -c "show version"`), or "FRR".
func FirstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "FRR"
}
