# slaroute: `make build` builds the binaries, `make test` runs every test.
SHELL := /bin/bash
GO        ?= go
BIN       := bin
PKG       := github.com/slaroute/slaroute
VERSION   ?= $(shell cat VERSION)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
             -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildUser=$(shell id -un)@$(shell hostname) \
             -X $(VPKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
BINARIES  := dns_sla_exporter route_actuator slaroutectl
# The e2e tests and the demo need root, network namespaces and Debian's daemons.
E2E_TIMEOUT ?= 12m

.PHONY: all build test test-unit test-integration test-rules test-dashboards test-deploy test-e2e test-soak size \
        style vet bench bench-exporter bench-actuator bench-ios bench-bgp bench-failover bench-scale bench-alertmanager demo clean deps fuzz soak \
        release test-release

all: build test

build: $(addprefix $(BIN)/,$(BINARIES))

$(BIN)/%: FORCE
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/$*

FORCE:

# THE test command (README, .ci/run). test-integration's ./... already runs the
# unit and dashboards tests (under -race), so test-unit and test-dashboards are
# for running those alone.
# Build tags (docs/testing.md): a _test.go file in a product tree (exporter/,
# actuator/, cmd/, dashboards/, rules/) that starts a process (Prometheus,
# Alertmanager, FRR, dnsmasq, sshd, the built binaries) or needs root and
# network namespaces carries `//go:build integration`; only those files may
# import deploy/lab/... . The lab's own end-to-end tests carry `e2e`.
test: deps build style vet test-integration test-rules test-deploy test-release test-e2e test-soak

style:
	@out=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) vet -tags e2e ./deploy/lab/...
	cd deploy/release && $(GO) vet ./...
	GO=$(GO) ./deploy/check-layout.sh

# Without the integration tag: the product trees' unit tests (no daemons, no
# root) and deploy/'s own package tests.
# The product's size: non-test Go under exporter/ actuator/ cmd/ dashboards/, per
# package (docs/architecture.md#size); REV=<git revision> measures that revision.
size:
	./deploy/size.sh $(REV)

test-unit:
	$(GO) test -race -count=1 -timeout 10m ./...

# Unit and integration tests (netns and FRR tests need root; with CI=true a
# missing tool or privilege fails them instead of skipping).
test-integration: build
	SLAROUTE_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 10m -tags integration ./...

test-rules:
	promtool check rules rules/*.yml
	promtool test rules rules/tests/*.yml

test-dashboards:
	$(GO) test -count=1 ./dashboards/...

test-deploy: build
	./deploy/check.sh

test-e2e: build
	SLAROUTE_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -p 1 -timeout $(E2E_TIMEOUT) -v ./deploy/lab/... 2>&1 | tee $(BIN)/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:'; exit $${PIPESTATUS[0]}

# Soak (docs/reliability.md): the built daemons under hostile DNS servers and
# webhooks for SOAK_DURATION; fails on a route invariant or a growth trend. Root.
SOAK_DURATION ?= 5m
SOAK_SAMPLE   ?= 10s
soak: build
	$(GO) run ./deploy/soak -bin $(BIN) -duration $(SOAK_DURATION) -sample $(SOAK_SAMPLE)

# make test's short soak: the route invariants (never below min_nexthops, never
# an unconfigured nexthop, every invalid webhook 4xx) under 30 s of chaos.
test-soak: build
	$(GO) run ./deploy/soak -bin $(BIN) -duration 30s -sample 5s -growth=false

# Benchmarks print numbers; they never gate the build.
bench: build bench-exporter bench-actuator bench-ios bench-bgp

bench-exporter: build
	./deploy/bench/exporter/bench.sh

bench-actuator: build
	./deploy/bench/netlink/bench.sh

bench-ios: build
	./deploy/bench/ios/bench.sh

bench-bgp: build
	./deploy/bench/bgp/bench.sh

bench-failover: build
	./deploy/lab/bench-failover.sh

# Every Go fuzz target for FUZZTIME each; `make test` runs only their seeds.
FUZZTIME ?= 30s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./deploy/fuzz.sh

# Prometheus cost per target: the old configuration (BASELINE: a directory, default
# deploy/bench/scale/baseline, or a git rev; none for the tree's alone) beside the tree's.
bench-scale:
	BASELINE=$(BASELINE) ./deploy/bench/scale/bench.sh

# Alertmanager's CPU under the shipped alertmanager.yml with N alerts firing at
# once (SIZES, GROUP_INTERVALS, WARMUP, WINDOW: see the script); about 4 minutes.
bench-alertmanager:
	./deploy/bench/alertmanager/bench.sh

# Newcomer's first command: the whole system in network namespaces.
demo: build
	./deploy/lab/demo.sh $(DEMO_ARGS)

# Release artefacts (docs/packages.md): dist/slaroute_<VERSION>_linux_<arch>.tar.gz,
# one .deb per binary and architecture (nfpm, from deploy/release, its own
# module), dist/SHA256SUMS. Static, stripped binaries; SOURCE_DATE_EPOCH (the commit's
# time) is every packaged file's modification time.
DIST           := dist
RELEASE_ARCHES := amd64 arm64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
release:
	rm -rf $(DIST)
	set -e; for arch in $(RELEASE_ARCHES); do for b in $(BINARIES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(DIST)/build/linux_$$arch/$$b ./cmd/$$b; \
	done; done
	cd deploy/release && SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run . -root $(CURDIR) -dist $(CURDIR)/$(DIST) \
		-version $(VERSION) -arch "$(RELEASE_ARCHES)"
	rm -rf $(DIST)/build
	@cd $(DIST) && ls -l

# Installs the amd64 packages into a scratch root and checks them (root: dpkg --root).
test-release: release
	cd deploy/release && SLAROUTE_DIST=$(CURDIR)/$(DIST) SLAROUTE_ROOT=$(CURDIR) $(GO) test -count=1 -v ./... 2>&1 | \
		grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:'; exit $${PIPESTATUS[0]}

deps:
	./.ci/install-deps.sh

clean:
	rm -rf $(BIN) $(DIST)
