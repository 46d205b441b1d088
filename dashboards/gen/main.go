// Command gen writes the dashboards' JSON files into the current directory
// (run by `go generate ./dashboards`).
package main

import (
	"fmt"
	"os"

	"github.com/slaroute/slaroute/dashboards"
)

func main() {
	for name, d := range dashboards.All() {
		b, err := dashboards.Marshal(d)
		if err == nil {
			err = os.WriteFile(name, b, 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
