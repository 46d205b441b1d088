//go:build linux

// Command labctl drives the slaroute namespace lab: `make demo` and
// `make bench-failover` run it through deploy/lab/demo.sh and
// deploy/lab/bench-failover.sh.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/slaroute/slaroute/deploy/lab"
)

func main() {
	app := kingpin.New("labctl", "Runs the slaroute namespace lab: demo, failover bench, cleanup.")
	dir := app.Flag("dir", "Scratch directory for configs, data and logs (default: a new temp dir).").String()
	repo := app.Flag("repo", "slaroute repository root (default: found above the working directory).").String()
	bin := app.Flag("bin", "Directory with dns_sla_exporter and route_actuator (default: $SLAROUTE_BIN, else built).").Envar("SLAROUTE_BIN").String()

	demo := app.Command("demo", "Bring the lab up, run the failure scenarios, keep it running until Enter.")
	once := demo.Flag("once", "Tear down right after the scenarios (the lab directory with the timeline, configs and logs is kept).").Bool()

	up := app.Command("up", "Bring the lab up and keep it running until Enter or a signal.")

	bench := app.Command("bench", "Failover benchmark: withdraw and restore times, lost queries, moved flows.")
	trials := bench.Flag("trials", "Trials per failure mode.").Default("20").Int()
	rate := bench.Flag("rate", "Client queries per second during the trials.").Default("500").Float64()
	bench.Flag("verbose", "Print every trial's stage durations.").BoolVar(&benchVerbose)
	var modeNames []string
	for _, m := range lab.Modes {
		modeNames = append(modeNames, string(m))
	}
	modes := bench.Flag("mode", "Failure modes to measure (repeatable).").Default(modeNames...).Enums(modeNames...)
	restoreRates := bench.Flag("restore-rate", "UDP query rates (queries/s) of the restore-under-load phase (repeatable; none: skip it).").Default("400", "4000", "20000").Strings()
	restoreCfgs := bench.Flag("restore-config", "backend.netlink variants of the restore phase (repeatable): shipped, old (128 buckets, idle 0), multipath, or key=value,... overriding the shipped section.").Default("shipped", "old", "multipath").Strings()
	restoreMax := bench.Flag("restore-max", "Longest observation of one restore.").Default("25s").Duration()

	down := app.Command("down", "Remove labs left behind by killed runs.")
	prefix := down.Flag("prefix", "Remove the lab with this namespace prefix (default: every stale slab<pid> lab).").String()

	cmd := kingpin.MustParse(app.Parse(os.Args[1:]))
	if cmd == down.FullCommand() {
		if err := cleanup(*prefix); err != nil {
			fmt.Fprintln(os.Stderr, "labctl:", err)
			os.Exit(1)
		}
		return
	}
	// Checked before the lab exists: a typo costs nothing.
	rates, err := parseRates(*restoreRates)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labctl:", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "labctl: the lab needs root (it creates network namespaces)")
		os.Exit(1)
	}
	autoDir := *dir == ""
	if autoDir {
		d, err := os.MkdirTemp("", "slaroute-lab-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "labctl:", err)
			os.Exit(1)
		}
		*dir = d
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := lab.EnvConfig{Lab: lab.Config{Dir: *dir, Clients: 32, Logger: logger}, Stack: lab.StackConfig{Repo: *repo, Bin: *bin}}
	fmt.Printf("Bringing the lab up (configs, data and logs in %s)...\n", *dir)
	e, err := lab.Setup(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labctl:", err)
		os.Exit(1)
	}
	// Tear down on ^C or SIGTERM too; the namespaces never outlive us.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sig
		fmt.Println("\ninterrupted: tearing down")
		cancel()
		_ = e.Down()
		os.Exit(130)
	}()
	code := 0
	timeline := filepath.Join(*dir, "timeline.html")
	switch cmd {
	case demo.FullCommand():
		err = runDemo(ctx, e, timeline)
		if err == nil {
			fmt.Printf("\nTimeline of each scenario (open in a browser): %s\n", timeline)
		}
		if err == nil && !*once {
			wait(e)
		}
	case up.FullCommand():
		wait(e)
	case bench.FullCommand():
		if len(rates) > 0 {
			err = runRestoreBench(ctx, e, *restoreCfgs, rates, *restoreMax)
		}
		if err == nil && *trials > 0 {
			err = runBench(ctx, e, *trials, *rate, *modes)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "labctl:", err)
		fmt.Fprintf(os.Stderr, "logs: %s\n", filepath.Join(*dir, "stack"))
		code = 1
	}
	fmt.Println("Tearing the lab down...")
	if derr := e.Down(); derr != nil {
		fmt.Fprintln(os.Stderr, "labctl: down:", derr)
		code = 1
	}
	switch {
	case code != 0:
		// kept, with its logs, to see what failed
	case cmd == demo.FullCommand():
		// The demo's timeline, configs and logs are what is left to look at
		// (with --once they are all there is): keep the directory advertised
		// above, and say where the picture is last.
		fmt.Printf("Configs, data and logs kept in %s (remove with: rm -r %[1]s)\n", *dir)
		if _, serr := os.Stat(timeline); serr == nil {
			fmt.Printf("Timeline of each scenario: %s\n", timeline)
		}
	case autoDir:
		os.RemoveAll(*dir)
		fmt.Printf("Removed %s\n", *dir)
	}
	os.Exit(code)
}

func cleanup(prefix string) error {
	if prefix != "" {
		return lab.DownPrefix(prefix)
	}
	stale, err := lab.StalePrefixes()
	if err != nil {
		return err
	}
	for _, p := range stale {
		fmt.Println("removing stale lab", p)
		if err := lab.DownPrefix(p); err != nil {
			return err
		}
	}
	return nil
}

func printURLs(e *lab.Env) {
	ns := e.Router
	fmt.Printf(`
The stack runs inside network namespace %[1]s, on its loopback:
  Prometheus        http://%[2]s/alerts
  Alertmanager      http://%[3]s/
  dns_sla_exporter  http://%[4]s/  (/metrics)
  route_actuator    http://%[5]s/  (/api/v1/routes, /metrics)
From the host, reach them through the namespace, e.g. (the actuator wants the
lab's basic auth: user %[10]s, password in %[11]s):
  ip netns exec %[1]s curl -s -u %[10]s:"$(cat %[11]s)" http://%[5]s/api/v1/routes
  ip netns exec %[1]s curl -s 'http://%[2]s/api/v1/query?query=ALERTS'
  ip -n %[1]s route show %[6]s; ip -n %[1]s nexthop show
  ip netns exec %[7]s kdig @%[8]s whoami.example.test TXT
Logs and configs: %[9]s
`, ns, lab.PrometheusAddr, lab.AlertmanagerAddr, lab.ExporterAddr, lab.ActuatorAddr,
		lab.ServicePrefix, e.Client, lab.ServiceAddr, filepath.Join(e.Dir, "stack"),
		lab.ActuatorUser, e.Stack.PasswordFile())
}

// wait blocks until Enter (or EOF on a non-interactive stdin: then until a signal).
func wait(e *lab.Env) {
	printURLs(e)
	fmt.Println("\nThe lab keeps running. Press Enter to tear it down.")
	r := bufio.NewReader(os.Stdin)
	if _, err := r.ReadString('\n'); err != nil {
		select {} // stdin closed: wait for ^C/SIGTERM
	}
}

// parseRates reads --restore-rate: positive numbers, or "none" alone to skip
// the restore phase.
func parseRates(args []string) ([]float64, error) {
	if len(args) == 1 && args[0] == "none" {
		return nil, nil
	}
	var rates []float64
	for _, a := range args {
		r, err := strconv.ParseFloat(a, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("--restore-rate %q: want a positive number of queries/s, or none alone", a)
		}
		rates = append(rates, r)
	}
	return rates, nil
}
