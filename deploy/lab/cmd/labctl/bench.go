package main

import (
	"context"
	"fmt"

	"github.com/slaroute/slaroute/deploy/lab"
)

func runBench(ctx context.Context, e *lab.Env, trials int, rate float64, modes []string) error {
	return fmt.Errorf("not yet")
}
