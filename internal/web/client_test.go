package web

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"127.0.0.1/32", []string{"127.0.0.1/32"}, false},
		{" 10.0.0.0/8 , 192.168.1.7 ", []string{"10.0.0.0/8", "192.168.1.7/32"}, false},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}, false}, // masked
		{"::1,fd00::/8", []string{"::1/128", "fd00::/8"}, false},
		{"::ffff:10.0.0.0/104", []string{"10.0.0.0/8"}, false}, // IPv4-mapped
		{"10.0.0.0/8,,", []string{"10.0.0.0/8"}, false},
		{"proxy.example.com", nil, true},
		{"10.0.0.0/33", nil, true},
		{"::ffff:10.0.0.1", []string{"10.0.0.1/32"}, false},
		{"::ffff:0.0.0.0/96", []string{"0.0.0.0/0"}, false},
		// Shorter than /96, a mapped network would match no client.
		{"::ffff:10.0.0.0/90", nil, true},
		{"127.0.0.1/32,::ffff:10.0.0.0/95", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseTrustedProxies(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseTrustedProxies(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i].String() != tt.want[i] {
				t.Errorf("ParseTrustedProxies(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

func TestBroadProxyRange(t *testing.T) {
	tests := []struct {
		cidr  string
		broad bool
	}{
		{"127.0.0.1/32", false},
		{"10.0.0.5/32", false},
		{"192.168.1.0/24", false},
		{"172.16.0.0/16", false},
		{"172.16.0.0/15", true},
		{"10.0.0.0/8", true},
		{"0.0.0.0/0", true},
		{"::1/128", false},
		{"2001:db8:1::/48", false},
		{"2001:db8::/32", true},
		{"fd00::/8", true},
		{"::/0", true},
	}
	for _, tt := range tests {
		if got := BroadProxyRange(netip.MustParsePrefix(tt.cidr)); got != tt.broad {
			t.Errorf("BroadProxyRange(%s) = %v, want %v", tt.cidr, got, tt.broad)
		}
	}
}

func TestResolveClient(t *testing.T) {
	proxies := Edge{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	tests := []struct {
		name   string
		edge   Edge
		remote string
		xff    []string
		proto  string
		tls    bool
		addr   string
		https  bool
		secure bool
	}{
		{"no proxies: the peer", Edge{}, "198.51.100.7:5000", []string{"203.0.113.9"}, "https", false, "198.51.100.7", false, false},
		{"untrusted peer: headers ignored", proxies, "198.51.100.7:5000", []string{"203.0.113.9"}, "https", false, "198.51.100.7", false, false},
		{"trusted proxy, one hop", proxies, "10.0.0.2:5000", []string{"203.0.113.9"}, "https", false, "203.0.113.9", true, true},
		{"right-most untrusted wins", proxies, "10.0.0.2:5000", []string{"1.1.1.1, 203.0.113.9"}, "", false, "203.0.113.9", false, false},
		{"trusted hops skipped", proxies, "10.0.0.2:5000", []string{"203.0.113.9, 10.0.0.5", "10.0.0.6"}, "", false, "203.0.113.9", false, false},
		{"all trusted: the left-most", proxies, "10.0.0.2:5000", []string{"10.0.0.9, 10.0.0.5"}, "", false, "10.0.0.9", false, false},
		{"no header: the proxy itself", proxies, "10.0.0.2:5000", nil, "", false, "10.0.0.2", false, false},
		{"garbage stops at the last trusted hop", proxies, "10.0.0.2:5000", []string{"203.0.113.9, not-an-ip, 10.0.0.5"}, "", false, "10.0.0.5", false, false},
		{"garbage right away: the peer", proxies, "10.0.0.2:5000", []string{"203.0.113.9, unknown"}, "", false, "10.0.0.2", false, false},
		{"entries with ports and brackets", proxies, "10.0.0.2:5000", []string{"[2001:db8::1]:443"}, "", false, "2001:db8::1", false, false},
		{"IPv6 proxy", proxies, "[::1]:5000", []string{"203.0.113.9"}, "https", false, "203.0.113.9", true, true},
		{"IPv4-mapped peer", proxies, "[::ffff:10.0.0.2]:5000", []string{"203.0.113.9"}, "", false, "203.0.113.9", false, false},
		{"last proto wins", proxies, "10.0.0.2:5000", nil, "http, https", false, "10.0.0.2", true, true},
		{"proxy says http over TLS", proxies, "10.0.0.2:5000", nil, "http", true, "10.0.0.2", false, false},
		{"TLS, no proxy", Edge{}, "198.51.100.7:5000", nil, "", true, "198.51.100.7", true, true},
		{"https public URL", Edge{PublicHTTPS: true}, "198.51.100.7:5000", nil, "", false, "198.51.100.7", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://herald/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			c := tt.edge.Resolve(r)
			if c.Addr.String() != tt.addr || c.HTTPS != tt.https || c.Secure != tt.secure {
				t.Errorf("Resolve = %+v, want address %s, https %v, secure %v", c, tt.addr, tt.https, tt.secure)
			}
		})
	}
}
