#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building, testing and the demo.
# Idempotent: does nothing when every tool is already there.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have prometheus                   || need+=(prometheus)
have promtool                     || need+=(prometheus)
have prometheus-alertmanager      || need+=(prometheus-alertmanager)
have amtool                       || need+=(prometheus-alertmanager)
have dnsmasq                      || need+=(dnsmasq-base)
have /usr/lib/frr/zebra           || need+=(frr)
have /usr/sbin/sshd               || need+=(openssh-server)
have ssh-keygen                   || need+=(openssh-client)
have kdig                         || need+=(knot-dnsutils)
have knotd                        || need+=(knot)
have nsd-checkconf                || need+=(nsd)
have ip                           || need+=(iproute2)
have pgrep                        || need+=(procps)
have systemd-analyze              || need+=(systemd)
have make                         || need+=(make)
have git                          || need+=(git)
have curl                         || need+=(curl)
have chromium                     || need+=(chromium)
have prometheus-blackbox-exporter || need+=(prometheus-blackbox-exporter)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing ${need[*]} and not root: run as root or install them" >&2
		# Outside CI the tests that need them skip; in CI they would fail anyway.
		[ "${CI:-}" = true ] && exit 1
		exit 0
	fi
	echo "install-deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "install-deps: no Go toolchain found (need go >= 1.21 on PATH: it fetches the toolchain go.mod asks for)" >&2
	exit 1
fi
