package directory

import (
	"net/netip"
	"testing"
	"time"
)

func TestThrottleKeys(t *testing.T) {
	// The username is kept as its SHA-256 (echo -n alice | sha256sum).
	const alice = "u:2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90|"
	tests := []struct {
		addr         string
		user, byAddr string
	}{
		{"203.0.113.9", alice + "203.0.113.9", "a:203.0.113.9"},
		{"::ffff:203.0.113.9", alice + "203.0.113.9", "a:203.0.113.9"},
		// An IPv6 client has a /64 to itself.
		{"2001:db8:1:2:3:4:5:6", alice + "2001:db8:1:2::/64", "a:2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", alice + "2001:db8:1:2::/64", "a:2001:db8:1:2::/64"},
		{"", alice + "unknown", "a:unknown"},
	}
	for _, tt := range tests {
		var a netip.Addr
		if tt.addr != "" {
			a = netip.MustParseAddr(tt.addr)
		}
		user, byAddr := throttleKeys("alice", a)
		if user != tt.user || byAddr != tt.byAddr {
			t.Errorf("throttleKeys(alice, %q) = %q, %q; want %q, %q", tt.addr, user, byAddr, tt.user, tt.byAddr)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	if d := (Limits{}).withDefaults(); d != DefaultLimits ||
		d.LoginPerUser != 5 || d.LoginPerAddress != 30 || d.LoginWindow != 15*time.Minute || d.Hashing != 4 {
		t.Errorf("zero limits = %+v", d)
	}
	if got := (Limits{LoginPerUser: 2, Hashing: 1}).withDefaults(); got.LoginPerUser != 2 || got.Hashing != 1 || got.LoginPerAddress != 30 {
		t.Errorf("partial limits = %+v", got)
	}
}
