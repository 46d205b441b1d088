// Package dnsdocs holds the test (e2e tag) that keeps docs/dns-servers.md
// true: its dnsmasq, Knot and NSD snippets pass the daemons' own checkers,
// and in network namespaces a server set up as the page says answers on its
// administrative and service addresses, ignores ARP for the service address,
// and shows the black hole the page warns about.
package dnsdocs
