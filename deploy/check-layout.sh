#!/usr/bin/env bash
# Checks that the tree keeps lab code out of the product (docs/testing.md):
# no non-test package under exporter/, actuator/, cmd/ or dashboards/ imports
# anything under deploy/, nor `testing` (except *test fake packages such as
# actuator/route/routetest), and no main package lives in exporter/ or
# actuator/. Run by `make vet`; prints the failures, or with -v every package.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
mod=$($GO list -m)
verbose=0
[ "${1:-}" = -v ] && verbose=1
$GO list -f '{{.ImportPath}} {{.Name}} {{join .Imports " "}}' ./exporter/... ./actuator/... ./cmd/... ./dashboards/... |
	awk -v mod="$mod" -v verbose="$verbose" '
	{
		bad = ""
		for (i = 3; i <= NF; i++) {
			if (index($i, mod "/deploy/") == 1) bad = bad " imports " $i
			if ($i == "testing" && $1 !~ /test$/) bad = bad " imports testing"
		}
		if ($2 == "main" && (index($1, mod "/exporter/") == 1 || index($1, mod "/actuator/") == 1)) bad = bad " is a main package"
		if (bad != "") { print "FAIL " $1 bad; fail = 1 } else ok[++n] = "ok   " $1
	}
	END {
		if (verbose) for (i = 1; i <= n; i++) print ok[i]
		else if (!fail) print "check-layout: " n " product packages, none imports lab code"
		exit fail
	}'
