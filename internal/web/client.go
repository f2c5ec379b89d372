package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Client is what the edge knows of who sent a request.
type Client struct {
	// Addr is the client's address: the peer's, or, when the peer is a
	// trusted proxy, the right-most X-Forwarded-For address that is not
	// itself a trusted proxy.
	Addr netip.Addr
	// HTTPS: the request arrived over TLS, or a trusted proxy said so with
	// X-Forwarded-Proto: https.
	HTTPS bool
	// Secure: cookies are marked Secure and HSTS is sent. True when HTTPS
	// is, or when Herald's public URL is https.
	Secure bool
}

// Edge resolves the Client of each request.
type Edge struct {
	// TrustedProxies are the networks whose forwarding headers are
	// believed; empty: none are.
	TrustedProxies []netip.Prefix
	// PublicHTTPS: the public URL Herald is reached at is https.
	PublicHTTPS bool
}

// ParseTrustedProxies reads a comma-separated list of CIDRs (a bare
// address means just that address). An IPv4-mapped IPv6 network
// (::ffff:10.0.0.0/104) is read as the IPv4 network it maps. Returns an
// error naming the entry that is neither, or that is an IPv4-mapped
// network of fewer than 96 bits (it would match no client).
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, fmt.Errorf("trusted_proxies: %q is not a CIDR like 10.0.0.0/8 or an address", part)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			// Clients are compared as IPv4: a mapped network is the IPv4
			// network in its last 32 bits, and one shorter than /96 reaches
			// beyond the mapped addresses and names none.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("trusted_proxies: %q is an IPv4-mapped network shorter than /96, which matches no client; write the IPv4 network (e.g. %s/32)", part, p.Addr().Unmap())
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// BroadProxyRange reports whether p, a trusted proxy network, is broad
// enough to hold clients as well as proxies (shorter than /16 for IPv4,
// /48 for IPv6): a client inside a trusted network can write any address
// into X-Forwarded-For and be taken at its word. List the proxies' own
// addresses instead.
func BroadProxyRange(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < 16
	}
	return p.Bits() < 48
}

func (e Edge) trusted(a netip.Addr) bool {
	for _, p := range e.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve works out the Client of r. Forwarding headers are read only when
// the peer is a trusted proxy; otherwise they are ignored, whatever they
// say.
func (e Edge) Resolve(r *http.Request) Client {
	peer := parseHost(r.RemoteAddr)
	c := Client{Addr: peer, HTTPS: r.TLS != nil}
	if peer.IsValid() && e.trusted(peer) {
		c.Addr = e.forwardedFor(peer, r.Header.Values("X-Forwarded-For"))
		if proto := lastListItem(r.Header.Values("X-Forwarded-Proto")); proto != "" {
			c.HTTPS = strings.EqualFold(proto, "https")
		}
	}
	c.Secure = c.HTTPS || e.PublicHTTPS
	return c
}

// forwardedFor walks X-Forwarded-For from the right (the entry the nearest
// proxy added) past trusted proxies, and returns the first address that is
// not one. An entry that is not an address ends the walk at the last
// trusted hop: what lies left of it cannot be vouched for. If every entry
// is trusted, the left-most is the client.
func (e Edge) forwardedFor(peer netip.Addr, values []string) netip.Addr {
	var entries []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			entries = append(entries, strings.TrimSpace(part))
		}
	}
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a := parseHost(entries[i])
		if !a.IsValid() {
			return client
		}
		client = a
		if !e.trusted(a) {
			return a
		}
	}
	return client
}

// parseHost reads an address with or without a port ("1.2.3.4",
// "1.2.3.4:80", "[::1]:80", "::1"); IPv4-mapped IPv6 becomes IPv4. The
// zero Addr if it is none.
func parseHost(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// lastListItem returns the right-most item of a comma-separated header.
func lastListItem(values []string) string {
	if len(values) == 0 {
		return ""
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}

type clientKey struct{}

// WithClient returns a context carrying the request's Client.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf returns the Client stored by WithClient (the zero Client if
// none: no address, not secure).
func ClientOf(r *http.Request) Client {
	c, _ := r.Context().Value(clientKey{}).(Client)
	return c
}
