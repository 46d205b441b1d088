package netlink

import (
	"hash/fnv"
	"net/netip"
	"strconv"
)

// Nexthop object IDs are global to a network namespace, so the backend
// derives them deterministically from what they stand for, inside a range
// reserved per protocol number:
//
//	bit 31     1 (IDs below 2^31 are left to iproute2 users, FRR's zebra, ...)
//	bits 30-23 the protocol number (5..255)
//	bit 22     0 = member nexthop (one per gateway), 1 = group (one per route)
//	bits 21-0  FNV-1a of the gateway address, or of "table/prefix" for a group
//
// An ID that is already taken by an object with another protocol, or by one
// of ours that stands for something else (a hash collision), is refused with
// ErrConflict: nothing is ever overwritten.
const (
	idHigh     = 1 << 31
	idProtoBit = 23
	idGroupBit = 1 << 22
	idHashMask = idGroupBit - 1
)

// idRange returns the first and last nexthop ID reserved for protocol.
func idRange(protocol int) (lo, hi uint32) {
	lo = idHigh | uint32(protocol)<<idProtoBit
	return lo, lo | (1<<idProtoBit - 1)
}

// inRange reports whether id lies in protocol's reserved range.
func inRange(protocol int, id uint32) bool {
	lo, hi := idRange(protocol)
	return id >= lo && id <= hi
}

// memberID is the ID of the nexthop object for gateway gw.
func memberID(protocol int, gw netip.Addr) uint32 {
	lo, _ := idRange(protocol)
	return lo | hash22(gw.String())
}

// groupID is the ID of the resilient group that carries prefix in table.
func groupID(protocol int, table int, prefix netip.Prefix) uint32 {
	lo, _ := idRange(protocol)
	return lo | idGroupBit | hash22(strconv.Itoa(table)+"/"+prefix.Masked().String())
}

func hash22(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32() & idHashMask
}
