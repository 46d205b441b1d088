// Command slaroutectl is route_actuator's command-line client, as amtool is
// Alertmanager's: route status with why each nexthop is missing, drains,
// and the events that say why routes changed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

const name = "slaroutectl"

// defaultConfigFile is read when it exists and --config.file is not given.
func defaultConfigFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", name+".yml")
}

// newApp binds every flag and command to o.
func newApp(o *Options) *kingpin.Application {
	app := kingpin.New(name, "Shows and changes route_actuator's state: routes and why each nexthop is missing, drains, route change events.\n\n"+
		"Every global flag can also be set in a YAML file (key = flag name without dashes, e.g. `actuator.url: http://127.0.0.1:9754`), read from --config.file or "+
		"$HOME/.config/slaroutectl.yml; the command line wins.")
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	app.Flag("config.file", "YAML file with flag defaults (default $HOME/.config/slaroutectl.yml when it exists).").PlaceHolder("<file>").StringVar(&o.ConfigFile)
	app.Flag("actuator.url", "route_actuator's URL.").Default("http://127.0.0.1:9754").URLVar(&o.URL)
	app.Flag("basic-auth.username", "Basic auth user (the actuator's --web.config.file basic_auth_users).").StringVar(&o.Username)
	app.Flag("basic-auth.password-file", "File holding the basic auth password.").PlaceHolder("<file>").StringVar(&o.PasswordFile)
	app.Flag("http.config.file", "Prometheus HTTP client configuration file (basic_auth, TLS, ...); excludes the basic-auth flags.").PlaceHolder("<file>").StringVar(&o.HTTPConfigFile)
	app.Flag("who", "Who you are, recorded with your drains next to the authenticated user.").Default(os.Getenv("USER")).StringVar(&o.Who)
	app.Flag("output", "Output format: simple (tables) or json.").Short('o').Default("simple").EnumVar(&o.Output, "simple", "json")
	app.Flag("timeout", "Timeout of the command.").Default("30s").DurationVar(&o.Timeout)

	status := app.Command("status", "Configured and installed nexthops per route, and why each missing one is missing.")
	status.Arg("route", "Only this route.").StringVar(&o.Route)

	drain := app.Command("drain", "Take a nexthop out for maintenance, whatever its health.")
	add := drain.Command("add", "Drain a nexthop (refused when a route would fall below min_nexthops, unless --force).")
	add.Arg("nexthop", "Nexthop address.").Required().StringVar(&o.Nexthop)
	add.Flag("reason", "Why (recorded and shown).").Required().StringVar(&o.Reason)
	add.Flag("route", "Only this route (default: every route with the nexthop).").StringVar(&o.Route)
	add.Flag("expires", "End the drain after this duration (2h) or at this time (RFC 3339).").StringVar(&o.Expires)
	add.Flag("force", "Drain even below min_nexthops.").BoolVar(&o.Force)
	drain.Command("list", "List drains.").Alias("ls")
	remove := drain.Command("remove", "End a nexthop's drains; it returns when healthy.").Alias("rm")
	remove.Arg("nexthop", "Nexthop address.").Required().StringVar(&o.Nexthop)
	remove.Flag("route", "Only the drain of this route.").StringVar(&o.Route)

	events := app.Command("events", "Route changes and their causes, oldest first.")
	events.Flag("since", "Only events after this sequence number.").Uint64Var(&o.Since)
	events.Flag("limit", "At most this many of the newest events.").Default("50").IntVar(&o.Limit)
	return app
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, time.Now))
}

// run parses args (with the config file's defaults) and runs the command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) (code int) {
	o := Options{Now: now}
	app := newApp(&o)
	// --help and --version end the parse here instead of in os.Exit.
	type exit int
	defer func() {
		switch e := recover().(type) {
		case nil:
		case exit:
			code = int(e)
		default:
			panic(e)
		}
	}()
	app.Terminate(func(c int) { panic(exit(c)) })
	app.UsageWriter(stdout) // --help and --version; usage after an error goes to ErrorWriter
	app.ErrorWriter(stderr)
	err := bindConfig(app, args, defaultConfigFile())
	if err == nil {
		o.Command, err = app.Parse(args)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if err := Run(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
