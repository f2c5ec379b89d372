package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// BlockedError is returned when a webhook's address is refused by the
// egress policy (docs/configuration.md, Egress policy).
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("address %s is blocked: %s", e.Addr, e.Reason)
}

// Guard decides which addresses webhook requests may go to, by
// egressRules.
type Guard struct {
	// DenyPrivate also refuses the rows marked privateOnly: loopback,
	// private and the other special-purpose ranges.
	DenyPrivate bool
}

// verdict is what an egressRules row says about its addresses.
type verdict uint8

const (
	// never contacted, whatever webhook_deny_private says.
	alwaysBlocked verdict = iota + 1
	// refused when webhook_deny_private is on.
	privateOnly
	// an IPv6 form that carries an IPv4 address: judged by that IPv4
	// address (its row's embedded says where it sits), as the network
	// would deliver the packet to it.
	embedsIPv4
)

// egressRule is one row of the egress policy.
type egressRule struct {
	prefix  netip.Prefix
	verdict verdict
	reason  string
	// embedded returns the IPv4 addresses an embedsIPv4 row's address
	// carries (given as 16 bytes); nil for the other rows.
	embedded func(a [16]byte) []netip.Addr
}

// egressRules is the egress policy, one row per prefix. The most specific
// row containing an address decides (::1/128 inside ::/96, 2001::/32
// inside 2001::/23); an address no row contains is allowed. A row is
// never more lenient than a row that contains it, except an embedsIPv4
// row, which is as strict as the address it carries (TestEgressRules
// checks both).
//
// Always blocked: link-local, cloud metadata services, unspecified,
// multicast, broadcast and reserved addresses (docs/configuration.md). With
// webhook_deny_private also every other range of IANA's IPv4 and IPv6
// Special-Purpose Address Registries (as of 2025), loopback and private
// ones first; rows the registries mark globally reachable (anycast
// services such as AS112, AMT, PCP, TURN) are infrastructure, never a
// webhook receiver, so they are refused with the rest.
//
// code.dny.dev/ssrf keeps a similar list, generated from the same
// registries; it is not used because it has one level (it cannot allow
// loopback while refusing metadata, as Herald does without
// webhook_deny_private) and it refuses every IPv6 address outside
// 2000::/3, NAT64 and IPv4-mapped ones included, instead of judging the
// IPv4 address they carry.
var egressRules = []egressRule{
	// IPv4, always blocked.
	{p("0.0.0.0/8"), alwaysBlocked, `"this network" (RFC 791); 0.0.0.0 is the unspecified address`, nil},
	{p("169.254.0.0/16"), alwaysBlocked, "link-local (RFC 3927), where cloud metadata services answer (169.254.169.254)", nil},
	{p("100.100.100.200/32"), alwaysBlocked, "Alibaba Cloud's metadata service", nil},
	{p("192.0.0.192/32"), alwaysBlocked, "Oracle Cloud's (Classic) metadata service", nil},
	{p("224.0.0.0/4"), alwaysBlocked, "multicast (RFC 5771)", nil},
	{p("240.0.0.0/4"), alwaysBlocked, "reserved (RFC 1112)", nil},
	{p("255.255.255.255/32"), alwaysBlocked, "limited broadcast (RFC 919)", nil},

	// IPv4, refused with webhook_deny_private: IANA's IPv4 registry.
	{p("10.0.0.0/8"), privateOnly, "private-use (RFC 1918)", nil},
	{p("100.64.0.0/10"), privateOnly, "shared address space, carrier-grade NAT (RFC 6598)", nil},
	{p("127.0.0.0/8"), privateOnly, "loopback (RFC 1122)", nil},
	{p("172.16.0.0/12"), privateOnly, "private-use (RFC 1918)", nil},
	{p("192.0.0.0/24"), privateOnly, "IETF protocol assignments (RFC 6890)", nil},
	{p("192.0.0.0/29"), privateOnly, "IPv4 service continuity prefix (RFC 7335)", nil},
	{p("192.0.0.8/32"), privateOnly, "IPv4 dummy address (RFC 7600)", nil},
	{p("192.0.0.9/32"), privateOnly, "Port Control Protocol anycast (RFC 7723)", nil},
	{p("192.0.0.10/32"), privateOnly, "TURN anycast (RFC 8155)", nil},
	{p("192.0.0.170/32"), privateOnly, "NAT64/DNS64 discovery (RFC 8880)", nil},
	{p("192.0.0.171/32"), privateOnly, "NAT64/DNS64 discovery (RFC 8880)", nil},
	{p("192.0.2.0/24"), privateOnly, "documentation, TEST-NET-1 (RFC 5737)", nil},
	{p("192.31.196.0/24"), privateOnly, "AS112-v4 (RFC 7535)", nil},
	{p("192.52.193.0/24"), privateOnly, "AMT (RFC 7450)", nil},
	{p("192.88.99.0/24"), privateOnly, "deprecated 6to4 relay anycast (RFC 7526)", nil},
	{p("192.88.99.2/32"), privateOnly, "6a44 relay anycast (RFC 6751)", nil},
	{p("192.168.0.0/16"), privateOnly, "private-use (RFC 1918)", nil},
	{p("192.175.48.0/24"), privateOnly, "direct delegation AS112 service (RFC 7534)", nil},
	{p("198.18.0.0/15"), privateOnly, "benchmarking (RFC 2544)", nil},
	{p("198.51.100.0/24"), privateOnly, "documentation, TEST-NET-2 (RFC 5737)", nil},
	{p("203.0.113.0/24"), privateOnly, "documentation, TEST-NET-3 (RFC 5737)", nil},

	// IPv6, always blocked.
	{p("::/128"), alwaysBlocked, "the unspecified address (RFC 4291)", nil},
	{p("fe80::/10"), alwaysBlocked, "link-local (RFC 4291)", nil},
	{p("ff00::/8"), alwaysBlocked, "multicast (RFC 4291)", nil},
	{p("fd00:ec2::254/128"), alwaysBlocked, "AWS's instance metadata service", nil},
	{p("fd00:ec2::23/128"), alwaysBlocked, "AWS's EKS Pod Identity Agent (credentials)", nil},
	{p("fd20:ce::254/128"), alwaysBlocked, "Google Cloud's metadata server", nil},
	{p("fd00:42::42/128"), alwaysBlocked, "Scaleway's metadata service", nil},

	// IPv6, refused with webhook_deny_private: IANA's IPv6 registry.
	{p("::1/128"), privateOnly, "loopback (RFC 4291)", nil},
	{p("100::/64"), privateOnly, "discard-only (RFC 6666)", nil},
	{p("100:0:0:1::/64"), privateOnly, "dummy prefix (RFC 9780)", nil},
	{p("2001::/23"), privateOnly, "IETF protocol assignments (RFC 2928)", nil},
	{p("2001:1::1/128"), privateOnly, "Port Control Protocol anycast (RFC 7723)", nil},
	{p("2001:1::2/128"), privateOnly, "TURN anycast (RFC 8155)", nil},
	{p("2001:1::3/128"), privateOnly, "DNS-SD service registration anycast (RFC 9665)", nil},
	{p("2001:2::/48"), privateOnly, "benchmarking (RFC 5180)", nil},
	{p("2001:3::/32"), privateOnly, "AMT (RFC 7450)", nil},
	{p("2001:4:112::/48"), privateOnly, "AS112-v6 (RFC 7535)", nil},
	{p("2001:10::/28"), privateOnly, "deprecated ORCHID (RFC 4843)", nil},
	{p("2001:20::/28"), privateOnly, "ORCHIDv2 (RFC 7343)", nil},
	{p("2001:30::/28"), privateOnly, "drone remote ID entity tags (RFC 9374)", nil},
	{p("2001:db8::/32"), privateOnly, "documentation (RFC 3849)", nil},
	{p("2620:4f:8000::/48"), privateOnly, "direct delegation AS112 service (RFC 7534)", nil},
	{p("3fff::/20"), privateOnly, "documentation (RFC 9637)", nil},
	{p("5f00::/16"), privateOnly, "SRv6 segment identifiers (RFC 9602)", nil},
	{p("fc00::/7"), privateOnly, "unique local (RFC 4193)", nil},
	{p("fec0::/10"), privateOnly, "deprecated site-local (RFC 3879)", nil},

	// IPv6 forms that carry an IPv4 address, judged by it.
	{p("::ffff:0:0/96"), embedsIPv4, "IPv4-mapped (RFC 4291)", last32},
	{p("::ffff:0:0:0/96"), embedsIPv4, "IPv4-translated (RFC 2765)", last32},
	// :: and ::1 are in it but are rows of their own (more specific).
	{p("::/96"), embedsIPv4, "IPv4-compatible, deprecated (RFC 4291)", last32},
	{p("64:ff9b::/96"), embedsIPv4, "NAT64 well-known prefix (RFC 6052)", last32},
	// A local NAT64 prefix may be /48 to /96 (RFC 6052 puts the IPv4
	// address elsewhere for each length), and which one is the network's
	// choice: judged as a /96, the usual setup. A network running a
	// shorter one should filter at its translator.
	{p("64:ff9b:1::/48"), embedsIPv4, "local-use NAT64 (RFC 8215)", last32},
	{p("2002::/16"), embedsIPv4, "6to4 (RFC 3056)", sixToFour},
	{p("2001::/32"), embedsIPv4, "Teredo (RFC 4380)", teredo},
}

func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// last32 is the IPv4 address in the last 32 bits.
func last32(a [16]byte) []netip.Addr {
	return []netip.Addr{netip.AddrFrom4([4]byte(a[12:16]))}
}

// sixToFour is the IPv4 address of a 6to4 site, bits 16 to 47.
func sixToFour(a [16]byte) []netip.Addr {
	return []netip.Addr{netip.AddrFrom4([4]byte(a[2:6]))}
}

// teredo gives both IPv4 addresses of a Teredo address: the server's
// (bits 32 to 63) and the client's (the last 32 bits, inverted). Both
// are judged: packets go out through the relay and server towards the
// client's address, so either one inside a forbidden range is a way
// there.
func teredo(a [16]byte) []netip.Addr {
	server := [4]byte(a[4:8])
	client := [4]byte{^a[12], ^a[13], ^a[14], ^a[15]}
	return []netip.Addr{netip.AddrFrom4(server), netip.AddrFrom4(client)}
}

// rule returns the most specific row containing ip, or nil.
func rule(ip netip.Addr) *egressRule {
	var best *egressRule
	for i := range egressRules {
		r := &egressRules[i]
		if r.prefix.Contains(ip) && (best == nil || r.prefix.Bits() > best.prefix.Bits()) {
			best = r
		}
	}
	return best
}

// Check returns a *BlockedError if ip may not be contacted. It runs once
// per connection, not per request.
func (g Guard) Check(ip netip.Addr) error {
	// A zone (fe80::1%eth0) does not change where the address is, and
	// netip.Prefix.Contains matches no address with one.
	ip = ip.WithZone("")
	r := rule(ip)
	if r == nil {
		return nil
	}
	switch r.verdict {
	case alwaysBlocked:
		return &BlockedError{ip, r.reason + "; never contacted"}
	case privateOnly:
		if g.DenyPrivate {
			return &BlockedError{ip, r.reason + "; refused with webhook_deny_private"}
		}
	case embedsIPv4:
		for _, v4 := range r.embedded(ip.As16()) {
			if err := g.Check(v4); err != nil {
				inner := err.(*BlockedError)
				return &BlockedError{ip, fmt.Sprintf("%s, carrying %s: %s", r.reason, v4, inner.Reason)}
			}
		}
	}
	return nil
}

// control is a net.Dialer Control function: it runs on the address
// actually being dialled, after DNS resolution, so a name that resolves to
// a forbidden address cannot route around the policy.
func (g Guard) control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("unexpected dial address %q", address)
	}
	return g.Check(ip)
}

// checkHost judges a URL's host before it is handed to a proxy, which
// resolves and dials it: a literal address is judged as if dialled; a
// name is left to the proxy, which is trusted with it.
func (g Guard) checkHost(host string) error {
	if ip, ok := literalAddr(host); ok {
		return g.Check(ip)
	}
	return nil
}

// literalAddr returns the address host spells out: an IP address, or an
// IPv4 address in one of the older spellings that inet_aton, and so the
// resolver of many a proxy, reads as an address (2130706433, 0x7f.1,
// 0177.0.0.1, 127.1). One trailing dot is ignored.
func literalAddr(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums [4]uint64
	for i, part := range parts {
		n, ok := atonPart(part)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	// Every part but the last is one byte; the last fills the rest.
	last := len(parts) - 1
	var v uint64
	for i := 0; i < last; i++ {
		if nums[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= nums[i] << (24 - 8*i)
	}
	if nums[last] >= 1<<(32-8*last) {
		return netip.Addr{}, false
	}
	v |= nums[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// atonPart reads one part of an inet_aton address as glibc does: it
// starts with a digit; hexadecimal after 0x (which alone is 0), octal
// after a leading 0, else decimal.
func atonPart(s string) (uint64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	base := 10
	if s[0] == '0' {
		s, base = s[1:], 8
		if s != "" && (s[0] == 'x' || s[0] == 'X') {
			s, base = s[1:], 16
		}
		if s == "" {
			return 0, true
		}
	}
	// ParseUint takes no sign and, with a base given, no underscores.
	n, err := strconv.ParseUint(s, base, 32)
	return n, err == nil
}
