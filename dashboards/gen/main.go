// Command gen writes the dashboards' JSON files into the current directory
// (run by `go generate ./dashboards`).
package main

import (
	"fmt"
	"os"

	"github.com/slaroute/slaroute/dashboards"
)

func main() {
	all, err := dashboards.All()
	for name, d := range all {
		if err != nil {
			break
		}
		var b []byte
		if b, err = dashboards.Marshal(d); err == nil {
			err = os.WriteFile(name, b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
