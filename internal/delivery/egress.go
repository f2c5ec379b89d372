package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// BlockedError is returned when a webhook's address is refused by the
// egress policy (CONTRACT 3).
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("address %s is blocked: %s", e.Addr, e.Reason)
}

// awsIMDSv6 is the IPv6 address of EC2's instance metadata service.
var awsIMDSv6 = netip.MustParseAddr("fd00:ec2::254")

// Guard decides which addresses webhook requests may go to.
type Guard struct {
	// DenyPrivate also refuses loopback and private ranges.
	DenyPrivate bool
}

// Check returns a *BlockedError if ip may not be contacted.
func (g Guard) Check(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLinkLocalUnicast() || ip == awsIMDSv6:
		return &BlockedError{ip, "link-local and cloud metadata addresses are never contacted"}
	case ip.IsUnspecified():
		return &BlockedError{ip, "the unspecified address is never contacted"}
	case ip.IsMulticast():
		return &BlockedError{ip, "multicast addresses are never contacted"}
	case g.DenyPrivate && ip.IsLoopback():
		return &BlockedError{ip, "loopback addresses are refused (webhook_deny_private is on)"}
	case g.DenyPrivate && ip.IsPrivate():
		return &BlockedError{ip, "private addresses are refused (webhook_deny_private is on)"}
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
