package main

import (
	"context"
	"fmt"

	"github.com/slaroute/slaroute/deploy/lab"
)

func runDemo(ctx context.Context, e *lab.Env) error {
	return fmt.Errorf("not yet")
}
