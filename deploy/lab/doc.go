//go:build linux

// Package lab builds the slaroute namespace lab: a client namespace, a Linux
// router namespace and DNS server namespaces running dnsmasq, plus the real
// monitoring chain (dns_sla_exporter, Prometheus, Alertmanager, route_actuator)
// inside the router namespace. The demo, the end-to-end tests (build tag e2e)
// and the failover benchmark all drive the system through this package.
//
// Topology (documentation addresses only):
//
//	client ns  eth0 203.0.113.10..  --veth--  cl0 203.0.113.1   router ns
//	router ns  lan0 198.51.100.1/24 (bridge) --veth-- eth0 198.51.100.1N  dnsN ns
//	dnsN ns    lo 192.0.2.53/32 (service address), dnsmasq on .1N and 192.0.2.53
//
// Every namespace name starts with the lab's prefix (default "slab<pid>"), so
// a lab left behind by a killed run is removed with DownPrefix.
package lab
