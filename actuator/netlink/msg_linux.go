//go:build linux

package netlink

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Kernel UAPI numbers missing from x/sys/unix (include/uapi/linux/nexthop.h,
// rtnetlink.h).
const (
	rtaNHID              = 30 // RTA_NH_ID: u32, the route uses this nexthop object
	nhaResGroup          = 12 // NHA_RES_GROUP: nested resilient group attributes
	nhaResGroupBuckets   = 1  // NHA_RES_GROUP_BUCKETS: u16
	nhaResGroupIdleTimer = 2  // NHA_RES_GROUP_IDLE_TIMER: u32 clock_t (1/100 s)
	// NHA_RES_GROUP_UNBALANCED_TIMER: u32 clock_t, 0 = never force a migration.
	nhaResGroupUnbalancedTimer = 3
	nexthopGrpTypeRes          = 1 // NEXTHOP_GRP_TYPE_RES
	nlaTypeMask                = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

var native = nl.NativeEndian()

// kroute is one route as dumped by the kernel (only the fields we read).
type kroute struct {
	Family   uint8
	Prefix   netip.Prefix
	Table    uint32
	Protocol uint8
	Type     uint8
	Priority uint32
	NHID     uint32       // RTA_NH_ID, 0 for classic routes
	Gateways []netip.Addr // RTA_GATEWAY or the gateways of RTA_MULTIPATH
}

// knexthop is one nexthop object as dumped by the kernel.
type knexthop struct {
	ID        uint32
	Family    uint8
	Protocol  uint8
	Gateway   netip.Addr // members
	OIF       uint32     // members
	Group     []uint32   // member IDs; non-nil for groups
	GroupType uint16
	Buckets   uint16 // resilient groups
	IdleTimer uint32 // resilient groups, clock_t
	// UnbalancedTimer is a resilient group's, clock_t.
	UnbalancedTimer uint32
}

func (n knexthop) isGroup() bool { return n.Group != nil }

// bytesData is raw request payload (a message header or attribute block).
type bytesData []byte

func (b bytesData) Len() int          { return len(b) }
func (b bytesData) Serialize() []byte { return b }

// nhmsgHeader is struct nhmsg.
func nhmsgHeader(family, protocol uint8) bytesData {
	return bytesData{family, 0, protocol, 0, 0, 0, 0, 0}
}

// rtmsgHeader is struct rtmsg; tables above 255 go in RTA_TABLE only.
func rtmsgHeader(family, dstLen, table, protocol, scope, typ uint8) bytesData {
	return bytesData{family, dstLen, 0, 0, table, protocol, scope, typ, 0, 0, 0, 0}
}

func u16(v uint16) []byte { return nl.Uint16Attr(v) }
func u32(v uint32) []byte { return nl.Uint32Attr(v) }

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// memberMsg builds the attributes of RTM_NEWNEXTHOP for a gateway nexthop.
func memberMsg(id uint32, protocol uint8, gw netip.Addr, oif uint32) []nl.NetlinkRequestData {
	return []nl.NetlinkRequestData{
		nhmsgHeader(family(gw), protocol),
		nl.NewRtAttr(unix.NHA_ID, u32(id)),
		nl.NewRtAttr(unix.NHA_OIF, u32(oif)),
		nl.NewRtAttr(unix.NHA_GATEWAY, gw.AsSlice()),
	}
}

// resTimers are a resilient group's timers in clock_t.
type resTimers struct{ idle, unbalanced uint32 }

// groupMsg builds the attributes of RTM_NEWNEXTHOP for a resilient group.
// buckets is omitted (0) on replace: the kernel cannot change it in place.
func groupMsg(id uint32, protocol uint8, members []uint32, buckets uint16, t resTimers) []nl.NetlinkRequestData {
	grp := make([]byte, 0, len(members)*unix.SizeofNexthopGrp)
	for _, m := range members {
		// struct nexthop_grp: id, weight-1, resvd1, resvd2.
		grp = append(grp, u32(m)...)
		grp = append(grp, 0, 0, 0, 0)
	}
	res := nl.NewRtAttr(nhaResGroup|unix.NLA_F_NESTED, nil)
	if buckets > 0 {
		res.AddRtAttr(nhaResGroupBuckets, u16(buckets))
	}
	res.AddRtAttr(nhaResGroupIdleTimer, u32(t.idle))
	res.AddRtAttr(nhaResGroupUnbalancedTimer, u32(t.unbalanced))
	return []nl.NetlinkRequestData{
		nhmsgHeader(unix.AF_UNSPEC, protocol),
		nl.NewRtAttr(unix.NHA_ID, u32(id)),
		nl.NewRtAttr(unix.NHA_GROUP, grp),
		nl.NewRtAttr(unix.NHA_GROUP_TYPE, u16(nexthopGrpTypeRes)),
		res,
	}
}

// nhIDMsg names nexthop object id (RTM_GETNEXTHOP, RTM_DELNEXTHOP).
func nhIDMsg(id uint32) []nl.NetlinkRequestData {
	return []nl.NetlinkRequestData{nhmsgHeader(unix.AF_UNSPEC, 0), nl.NewRtAttr(unix.NHA_ID, u32(id))}
}

// routeKey is the rtmsg and attributes naming one route: prefix, table, protocol.
func routeKey(p netip.Prefix, table uint32, protocol uint8, scope, typ uint8) []nl.NetlinkRequestData {
	hdrTable := uint8(unix.RT_TABLE_UNSPEC)
	if table < 256 {
		hdrTable = uint8(table)
	}
	return []nl.NetlinkRequestData{
		rtmsgHeader(family(p.Addr()), uint8(p.Bits()), hdrTable, protocol, scope, typ),
		nl.NewRtAttr(unix.RTA_DST, p.Addr().AsSlice()),
		nl.NewRtAttr(unix.RTA_TABLE, u32(table)),
	}
}

// nhRouteMsg builds RTM_NEWROUTE for a route that uses nexthop object nhID.
func nhRouteMsg(p netip.Prefix, table uint32, protocol uint8, nhID uint32) []nl.NetlinkRequestData {
	return append(routeKey(p, table, protocol, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST),
		nl.NewRtAttr(rtaNHID, u32(nhID)))
}

// eachRecord calls f for every record in b, each led by its u16 length and
// at least hdr bytes long, such as attributes and struct rtnexthop (without
// allocating: dumps are parsed on every reconcile).
func eachRecord(b []byte, hdr int, what string, f func(rec []byte) error) error {
	for len(b) >= hdr {
		n := int(native.Uint16(b[0:2]))
		if n < hdr || n > len(b) {
			return fmt.Errorf("bad %s length %d", what, n)
		}
		if err := f(b[:n]); err != nil {
			return err
		}
		b = b[min(nlAlign(n), len(b)):]
	}
	return nil
}

// eachAttr calls f for every attribute in b.
func eachAttr(b []byte, f func(typ uint16, v []byte) error) error {
	return eachRecord(b, unix.SizeofRtAttr, "attribute", func(a []byte) error {
		return f(native.Uint16(a[2:4])&nlaTypeMask, a[unix.SizeofRtAttr:])
	})
}

func addrFrom(b []byte) (netip.Addr, error) {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.Addr{}, fmt.Errorf("bad address of %d bytes", len(b))
	}
	return a, nil
}

func u32At(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return native.Uint32(v)
}

func u16At(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return native.Uint16(v)
}

// parseRoute decodes one RTM_NEWROUTE message body.
func parseRoute(b []byte) (kroute, error) {
	if len(b) < unix.SizeofRtMsg {
		return kroute{}, fmt.Errorf("short rtmsg of %d bytes", len(b))
	}
	r := kroute{Family: b[0], Table: uint32(b[4]), Protocol: b[5], Type: b[7]}
	dst := netip.IPv4Unspecified()
	if r.Family == unix.AF_INET6 {
		dst = netip.IPv6Unspecified()
	}
	err := eachAttr(b[unix.SizeofRtMsg:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case unix.RTA_DST:
			dst, err = addrFrom(v)
		case unix.RTA_TABLE:
			r.Table = u32At(v)
		case unix.RTA_PRIORITY:
			r.Priority = u32At(v)
		case rtaNHID:
			r.NHID = u32At(v)
		case unix.RTA_GATEWAY:
			var gw netip.Addr
			gw, err = addrFrom(v)
			r.Gateways = append(r.Gateways, gw)
		case unix.RTA_MULTIPATH:
			var gws []netip.Addr
			gws, err = parseMultipath(v)
			r.Gateways = append(r.Gateways, gws...)
		}
		return err
	})
	if err != nil {
		return kroute{}, err
	}
	if r.Prefix, err = dst.Prefix(int(b[1])); err != nil {
		return kroute{}, err
	}
	return r, nil
}

// parseMultipath reads the gateways of a list of struct rtnexthop.
func parseMultipath(b []byte) ([]netip.Addr, error) {
	var out []netip.Addr
	err := eachRecord(b, unix.SizeofRtNexthop, "rtnexthop", func(nh []byte) error {
		return eachAttr(nh[unix.SizeofRtNexthop:], func(typ uint16, v []byte) error {
			if typ != unix.RTA_GATEWAY {
				return nil
			}
			gw, err := addrFrom(v)
			out = append(out, gw)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// parseNexthop decodes one RTM_NEWNEXTHOP message body.
func parseNexthop(b []byte) (knexthop, error) {
	if len(b) < unix.SizeofNhmsg {
		return knexthop{}, fmt.Errorf("short nhmsg of %d bytes", len(b))
	}
	n := knexthop{Family: b[0], Protocol: b[2]}
	err := eachAttr(b[unix.SizeofNhmsg:], func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case unix.NHA_ID:
			n.ID = u32At(v)
		case unix.NHA_OIF:
			n.OIF = u32At(v)
		case unix.NHA_GATEWAY:
			n.Gateway, err = addrFrom(v)
		case unix.NHA_GROUP:
			n.Group = make([]uint32, 0, len(v)/unix.SizeofNexthopGrp)
			for i := 0; i+unix.SizeofNexthopGrp <= len(v); i += unix.SizeofNexthopGrp {
				n.Group = append(n.Group, native.Uint32(v[i:]))
			}
		case unix.NHA_GROUP_TYPE:
			n.GroupType = u16At(v)
		case nhaResGroup:
			err = eachAttr(v, func(typ uint16, v []byte) error {
				switch typ {
				case nhaResGroupBuckets:
					n.Buckets = u16At(v)
				case nhaResGroupIdleTimer:
					n.IdleTimer = u32At(v)
				case nhaResGroupUnbalancedTimer:
					n.UnbalancedTimer = u32At(v)
				}
				return nil
			})
		}
		return err
	})
	if err != nil {
		return knexthop{}, err
	}
	return n, nil
}

// temporary reports whether a kernel or socket errno means "try again later"
// rather than "this request is wrong".
func temporary(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return true // not from the kernel: the socket itself failed
	}
	switch errno {
	case unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.ENOMEM, unix.EINTR, unix.ETIMEDOUT,
		unix.EBADF, unix.ENOTSOCK, unix.ECONNREFUSED, unix.EPIPE:
		return true
	}
	return false
}
