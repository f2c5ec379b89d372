package delivery

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// These tests call the guard with addresses; nothing is dialled (a test
// may only send traffic to loopback).

// What the guard says of an address, without and with
// webhook_deny_private.
const (
	allowed = "allowed" // both
	private = "private" // refused with webhook_deny_private only
	always  = "always"  // refused in both
)

func judged(t *testing.T, addr string) string {
	t.Helper()
	ip := netip.MustParseAddr(addr)
	open, deny := Guard{}.Check(ip), Guard{DenyPrivate: true}.Check(ip)
	switch {
	case open != nil && deny != nil:
		return always
	case open == nil && deny != nil:
		return private
	case open == nil && deny == nil:
		return allowed
	}
	t.Fatalf("%s is refused without webhook_deny_private and allowed with it: %v", addr, open)
	return ""
}

// Addresses written out by hand, with what docs/configuration.md
// ("Egress policy") says of them: the bypasses, both edges of ranges, each form that
// carries an IPv4 address (with an allowed, a private and an always
// refused IPv4 inside), and public addresses next to special ranges.
func TestGuard(t *testing.T) {
	tests := []struct{ addr, want string }{
		// The bypasses of issue 15.
		{"64:ff9b::a9fe:a9fe", always},
		{"2002:a9fe:a9fe::1", always},
		{"::169.254.169.254", always},
		{"255.255.255.255", always},
		{"100.100.100.200", always},
		{"::127.0.0.1", private},
		{"100.64.0.1", private},
		{"198.18.0.1", private},

		// Always refused.
		{"169.254.169.254", always},
		{"169.254.0.0", always},
		{"169.254.255.255", always},
		{"0.0.0.0", always},
		{"0.255.255.255", always},
		{"192.0.0.192", always},
		{"224.0.0.1", always},
		{"239.255.255.250", always},
		{"240.0.0.1", always},
		{"255.255.255.254", always},
		{"::", always},
		{"fe80::1", always},
		{"fe80::1%eth0", always},
		{"febf:ffff::1", always},
		{"ff02::1", always},
		{"ff0e::1", always},
		{"fd00:ec2::254", always},
		{"fd00:ec2::23", always},
		{"fd20:ce::254", always},
		{"fd00:42::42", always},

		// Refused with webhook_deny_private.
		{"127.0.0.1", private},
		{"127.255.255.255", private},
		{"::1", private},
		{"10.0.0.0", private},
		{"10.255.255.255", private},
		{"172.16.0.1", private},
		{"172.31.255.255", private},
		{"192.168.1.1", private},
		{"100.127.255.255", private},
		{"100.100.100.201", private},
		{"198.19.255.255", private},
		{"192.0.0.1", private},
		{"192.0.0.9", private},
		{"192.0.0.10", private},
		{"192.0.0.170", private},
		{"192.0.0.255", private},
		{"192.0.2.1", private},
		{"198.51.100.1", private},
		{"203.0.113.255", private},
		{"192.31.196.1", private},
		{"192.52.193.1", private},
		{"192.88.99.1", private},
		{"192.88.99.2", private},
		{"192.175.48.1", private},
		{"fc00::1", private},
		{"fd12:3456::1", private},
		{"fd00:ec2::253", private},
		{"fec0::1", private},
		{"100::1", private},
		{"100:0:0:1::1", private},
		{"2001:1::1", private},
		{"2001:1::3", private},
		{"2001:2::1", private},
		{"2001:3::1", private},
		{"2001:4:112::1", private},
		{"2001:10::1", private},
		{"2001:20::1", private},
		{"2001:30::1", private},
		{"2001:100::1", private}, // IETF protocol assignments, not Teredo
		{"2001:1ff:ffff::1", private},
		{"2001:db8::1", private},
		{"2620:4f:8000::1", private},
		{"3fff::1", private},
		{"5f00::1", private},

		// Public, some next to the ranges above.
		{"8.8.8.8", allowed},
		{"93.184.216.34", allowed},
		{"100.63.255.255", allowed},
		{"100.128.0.0", allowed},
		{"172.15.255.255", allowed},
		{"172.32.0.0", allowed},
		{"192.0.1.1", allowed},
		{"198.17.255.255", allowed},
		{"198.20.0.0", allowed},
		{"223.255.255.255", allowed},
		{"2606:4700::1111", allowed},
		{"2001:4860:4860::8888", allowed},
		{"2001:200::1", allowed},
		{"2620:4f:8001::1", allowed},

		// IPv4-mapped.
		{"::ffff:169.254.169.254", always},
		{"::ffff:127.0.0.1", private},
		{"::ffff:8.8.8.8", allowed},
		// IPv4-translated.
		{"::ffff:0:169.254.169.254", always},
		{"::ffff:0:10.0.0.1", private},
		{"::ffff:0:8.8.8.8", allowed},
		// IPv4-compatible.
		{"::0.0.0.2", always},
		{"::10.0.0.1", private},
		{"::8.8.8.8", allowed},
		// NAT64, well-known and local-use prefixes.
		{"64:ff9b::e000:1", always},
		{"64:ff9b::7f00:1", private},
		{"64:ff9b::808:808", allowed},
		{"64:ff9b:1::a9fe:a9fe", always},
		{"64:ff9b:1:ffff::a00:1", private},
		{"64:ff9b:1::808:808", allowed},
		// 6to4: the IPv4 address is bits 16 to 47.
		{"2002::1", always},
		{"2002:7f00:1::1", private},
		{"2002:c0a8:101:1::1", private},
		{"2002:808:808::1", allowed},
		// Teredo: server 65.54.227.120, client 192.0.2.45 (RFC 4380's
		// example); then a private or metadata client or server.
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", private},
		{"2001:0:4136:e378::f7f7:f7f7", allowed}, // client 8.8.8.8
		{"2001:0:4136:e378::5601:5601", always},  // client 169.254.169.254
		{"2001:0:a9fe:a9fe::f7f7:f7f7", always},  // server 169.254.169.254
		{"2001:0:a00:1::f7f7:f7f7", private},     // server 10.0.0.1
	}
	for _, tt := range tests {
		if got := judged(t, tt.addr); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.addr, got, tt.want)
		}
	}
}

// Every row of egressRules decides for its own addresses (the first and
// last of its prefix, where no more specific row takes them), the way its
// verdict says, and names its reason; embedded forms say what they carry.
func TestEgressRules(t *testing.T) {
	for i := range egressRules {
		r := &egressRules[i]
		if r.prefix != r.prefix.Masked() {
			t.Errorf("row %s: not a network prefix", r.prefix)
		}
		if (r.verdict == embedsIPv4) != (r.embedded != nil) {
			t.Errorf("row %s: verdict %d with embedded %v", r.prefix, r.verdict, r.embedded != nil)
		}
		decided := 0
		for _, ip := range []netip.Addr{r.prefix.Addr(), lastAddr(r.prefix)} {
			if rule(ip) != r {
				continue // a more specific row's
			}
			decided++
			open, deny := Guard{}.Check(ip), Guard{DenyPrivate: true}.Check(ip)
			switch r.verdict {
			case alwaysBlocked:
				if open == nil || !strings.Contains(open.Error(), r.reason) {
					t.Errorf("row %s: %s without webhook_deny_private: %v", r.prefix, ip, open)
				}
			case privateOnly:
				if open != nil || deny == nil || !strings.Contains(deny.Error(), r.reason) {
					t.Errorf("row %s: %s: %v, then %v", r.prefix, ip, open, deny)
				}
			case embedsIPv4:
				// The first and last carry 0.0.0.0 or 255.255.255.255
				// (Teredo's inverted client too): always refused.
				if open == nil || !strings.Contains(open.Error(), r.reason+", carrying") {
					t.Errorf("row %s: %s: %v", r.prefix, ip, open)
				}
			}
		}
		if decided == 0 {
			t.Errorf("row %s decides neither its first nor its last address", r.prefix)
		}
	}
}

// A row inside another is never more lenient than it: a private row
// inside an always row would let addresses through that the wider row
// refuses. Rows carrying an IPv4 address are exempt (judged by it), and
// so are :: and ::1 inside ::/96 (their own addresses, not IPv4-compatible).
func TestEgressRulesNesting(t *testing.T) {
	for i := range egressRules {
		for j := range egressRules {
			outer, inner := &egressRules[i], &egressRules[j]
			if i == j || outer.verdict == embedsIPv4 || inner.verdict == embedsIPv4 {
				continue
			}
			if outer.prefix.Bits() <= inner.prefix.Bits() && outer.prefix.Contains(inner.prefix.Addr()) {
				if outer.prefix == inner.prefix {
					t.Errorf("prefix %s has two rows", outer.prefix)
				}
				if outer.verdict == alwaysBlocked && inner.verdict == privateOnly {
					t.Errorf("%s (private only) inside %s (always refused)", inner.prefix, outer.prefix)
				}
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().AsSlice()
	for bit := p.Bits(); bit < len(a)*8; bit++ {
		a[bit/8] |= 0x80 >> (bit % 8)
	}
	ip, _ := netip.AddrFromSlice(a)
	return ip
}

// Hosts handed to a proxy: an address in any spelling a resolver reads as
// one (inet_aton's older forms too) is judged; a name is the proxy's.
func TestLiteralAddr(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"::ffff:a9fe:a9fe", "::ffff:169.254.169.254"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"169.254.169.254.", "169.254.169.254"},
		{"2130706433", "127.0.0.1"},
		{"2852039166", "169.254.169.254"},
		{"0x7f.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"010.0.0.1", "8.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"169.254.43518", "169.254.169.254"},
		{"169.16689662", "169.254.169.254"},
		{"0xa9.0xfe.0xa9.0xfe", "169.254.169.254"},
		{"0XA9.0376.0xa9fe", "169.254.169.254"},
		{"0x", "0.0.0.0"},
		{"0", "0.0.0.0"},
		{"0x.0.0.0", "0.0.0.0"},
		{"example.com", ""},
		{"localhost", ""},
		{"1.2.3.4.5", ""},
		{"256.1.1.1", ""},
		{"1.2.256.0", ""},
		{"1.2.65536", ""},
		{"4294967296", ""},
		{"0x1g", ""},
		{"08", ""},
		{"1..2", ""},
		{"-1", ""},
		{"+1", ""},
		{"1_000", ""},
		{"1e3", ""},
		{"0x7f.1.example", ""},
		{"", ""},
	} {
		ip, ok := literalAddr(tc.host)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tc.want {
			t.Errorf("literalAddr(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
	for _, tc := range []struct {
		host    string
		deny    bool
		blocked bool
	}{
		{"0xa9fea9fe", false, true},
		{"::169.254.169.254", false, true},
		{"0x7f.1", false, false},
		{"0x7f.1", true, true},
		{"metadata.google.internal", false, false}, // the proxy resolves names
	} {
		if err := (Guard{DenyPrivate: tc.deny}).checkHost(tc.host); (err != nil) != tc.blocked {
			t.Errorf("checkHost(%q, deny %v) = %v", tc.host, tc.deny, err)
		}
	}
}

// docs/configuration.md lists every row of egressRules, with its verdict
// and reason, and no other.
func TestEgressRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Egress policy\n")
	if !ok {
		t.Fatal("docs/configuration.md has no section ## Egress policy")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		if cells := strings.Split(line, " | "); strings.HasPrefix(line, "| `") && len(cells) == 3 {
			rows[strings.Trim(cells[0], "| `")] = cells[1:]
		}
	}
	words := map[verdict]string{alwaysBlocked: "always", privateOnly: "with `webhook_deny_private`", embedsIPv4: "as the IPv4 address it carries"}
	for _, r := range egressRules {
		row, ok := rows[r.prefix.String()]
		if !ok {
			t.Errorf("docs/configuration.md has no row for %s", r.prefix)
			continue
		}
		if row[0] != words[r.verdict] || strings.TrimSuffix(row[1], " |") != r.reason {
			t.Errorf("row %s in the docs says %q, the code %q, %q", r.prefix, row, words[r.verdict], r.reason)
		}
		delete(rows, r.prefix.String())
	}
	for prefix := range rows {
		t.Errorf("docs/configuration.md lists %s, which egressRules does not have", prefix)
	}
}
