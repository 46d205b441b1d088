//go:build tools

// Package tools pins modules that the project's packages import, so that a
// `go mod tidy` run while a package is being written does not drop them.
package tools

import (
	_ "github.com/alecthomas/kingpin/v2"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/alertmanager/template"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/common/promslog"
	_ "github.com/prometheus/common/version"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "github.com/scrapli/scrapligo/driver/network"
	_ "github.com/vishvananda/netlink"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/sync/errgroup"
)
