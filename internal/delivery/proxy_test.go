package delivery

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpproxy"

	"github.com/heraldhq/herald/internal/testproxy"
)

// These tests send webhook requests through a real forward proxy,
// Debian's tinyproxy, which each test starts on loopback with its own
// configuration (testproxy); receivers are on loopback too. tinyproxy's
// connections to receivers come from testproxy.Source, so a receiver
// sees whether a request came through it; its log shows the tunnels it
// opened.

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// viaProxy returns a ProxyFunc that sends every request through proxy
// (the standard rules never proxy loopback, where the receivers are).
func viaProxy(proxy *url.URL) ProxyFunc {
	return func(*url.URL) (*url.URL, error) { return proxy, nil }
}

// receiver is an http or https test server that keeps the peer address
// and webhook-id of each request.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	peers []string
	ids   []string
}

func newReceiver(t *testing.T, https bool) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		rc.mu.Lock()
		rc.peers = append(rc.peers, host)
		rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	rc.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes
	if https {
		rc.StartTLS()
	} else {
		rc.Start()
	}
	t.Cleanup(rc.Close)
	return rc
}

// last returns the peer address and webhook-id of the last request.
func (rc *receiver) last() (peer, id string, n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if n = len(rc.peers); n > 0 {
		return rc.peers[n-1], rc.ids[n-1], n
	}
	return "", "", 0
}

func (rc *receiver) port() string {
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	return port
}

func (rc *receiver) roots() *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(rc.Certificate())
	return &tls.Config{RootCAs: roots}
}

// sendVia sends one request to rc through client and returns the attempt.
func sendVia(t *testing.T, client *fasthttp.Client, rc *receiver) result {
	t.Helper()
	tg, _ := testTarget(t, rc.URL+"/hook", "POST")
	return send(client, time.Now().Add(3*time.Second), tg, testMsg, 1)
}

// Webhook requests to an http and an https receiver go through the
// proxy: each receiver sees the proxy's connection and the request as
// sent, the proxy's log shows one tunnel per receiver (kept alive for a
// second request), and the https receiver's certificate is still
// checked end to end, inside the tunnel.
func TestProxyHTTPAndHTTPS(t *testing.T) {
	t.Parallel()
	plain, secure := newReceiver(t, false), newReceiver(t, true)
	proxy := testproxy.Start(t, []string{plain.port(), secure.port()})
	cfg := testConfig()
	cfg.Proxy = viaProxy(proxy.URL(""))
	client := newClient(cfg, Guard{}, secure.roots())
	for _, rc := range []*receiver{plain, secure} {
		for n := 1; n <= 2; n++ {
			if r := sendVia(t, client, rc); r.attempt.StatusCode != 204 || r.attempt.Error != "" {
				t.Fatalf("%s, request %d: %+v", rc.URL, n, r.attempt)
			}
			if peer, id, got := rc.last(); peer != testproxy.Source || id != testMsg.EventID || got != n {
				t.Fatalf("%s, request %d: came from %s with webhook-id %q (%d requests), want from the proxy (%s)", rc.URL, n, peer, id, got, testproxy.Source)
			}
		}
		if n := proxy.Tunnels(t, rc.Listener.Addr().String()); n != 1 {
			t.Errorf("%s: the proxy opened %d tunnels for two requests, want 1 (kept alive)", rc.URL, n)
		}
	}

	system := newClient(cfg, Guard{}, nil) // the system's roots: the test CA is unknown
	if r := sendVia(t, system, secure); r.attempt.StatusCode != 0 || !strings.Contains(r.attempt.Error, "certificate") {
		t.Fatalf("through the proxy, an unknown certificate was accepted: %+v", r.attempt)
	}
}

// Credentials in the proxy URL are sent to the proxy (decoded: %2D is
// a "-"); wrong or missing ones fail with an error saying so, and no
// attempt's error ever shows the password.
func TestProxyCredentials(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, false)
	proxy := testproxy.Start(t, []string{rc.port()}, "BasicAuth herald s3cr-et.pw")
	for _, tc := range []struct {
		userinfo string
		ok       bool
	}{
		{"herald:s3cr%2Det.pw", true},
		{"herald:wrong.pw", false},
		{"", false},
	} {
		cfg := testConfig()
		cfg.Proxy = viaProxy(proxy.URL(tc.userinfo))
		r := sendVia(t, newClient(cfg, Guard{}, nil), rc)
		if tc.ok != (r.attempt.StatusCode == 204) {
			t.Errorf("credentials %q: %+v", tc.userinfo, r.attempt)
		}
		if peer, _, _ := rc.last(); tc.ok && peer != testproxy.Source {
			t.Errorf("credentials %q: the request came from %s, not through the proxy", tc.userinfo, peer)
		}
		// tinyproxy answers 407 without credentials and 401 to wrong
		// ones (407 is the rule); both are read as refused credentials.
		if !tc.ok && !strings.Contains(r.attempt.Error, "(check the user and password in the proxy variable)") {
			t.Errorf("credentials %q: error %q does not say the proxy refused them", tc.userinfo, r.attempt.Error)
		}
		if strings.Contains(r.attempt.Error, "s3cr") || strings.Contains(r.attempt.Error, "wrong.pw") {
			t.Errorf("an attempt's error shows the password: %q", r.attempt.Error)
		}
	}
	if _, _, n := rc.last(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1", n)
	}
}

// The environment's variables with their usual meaning, end to end:
// HTTPS_PROXY for https receivers, HTTP_PROXY for http ones, NO_PROXY
// for direct connections. The receivers are on loopback, which the
// standard rules never proxy, so the rules are asked about them under a
// stand-in name (receiver.test) while the request goes to loopback.
func TestProxyEnvironmentRules(t *testing.T) {
	t.Parallel()
	plain, secure := newReceiver(t, false), newReceiver(t, true)
	proxy := testproxy.Start(t, []string{plain.port(), secure.port()})
	proxyURL := proxy.URL("").String()
	for _, tc := range []struct {
		name                string
		env                 httpproxy.Config
		plainVia, secureVia bool
	}{
		{"both proxies", httpproxy.Config{HTTPSProxy: proxyURL, HTTPProxy: proxyURL}, true, true},
		{"HTTPS_PROXY only", httpproxy.Config{HTTPSProxy: proxyURL}, false, true},
		{"HTTP_PROXY only", httpproxy.Config{HTTPProxy: proxyURL}, true, false},
		{"NO_PROXY the host", httpproxy.Config{HTTPSProxy: proxyURL, HTTPProxy: proxyURL, NoProxy: "receiver.test"}, false, false},
		{"NO_PROXY the domain", httpproxy.Config{HTTPSProxy: proxyURL, HTTPProxy: proxyURL, NoProxy: "other.test, .test"}, false, false},
		{"NO_PROXY another host", httpproxy.Config{HTTPSProxy: proxyURL, HTTPProxy: proxyURL, NoProxy: "other.test"}, true, true},
		{"NO_PROXY the http port", httpproxy.Config{HTTPSProxy: proxyURL, HTTPProxy: proxyURL, NoProxy: "receiver.test:" + plain.port()}, false, true},
		{"NO_PROXY *", httpproxy.Config{HTTPSProxy: proxyURL, HTTPProxy: proxyURL, NoProxy: "*"}, false, false},
	} {
		p, err := proxyFromConfig(tc.env)
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.Proxy = asIf("receiver.test", p.Choose)
		client := newClient(cfg, Guard{}, secure.roots())
		for _, c := range []struct {
			rc  *receiver
			via bool
		}{{plain, tc.plainVia}, {secure, tc.secureVia}} {
			if r := sendVia(t, client, c.rc); r.attempt.StatusCode != 204 {
				t.Fatalf("%s: %s: %+v", tc.name, c.rc.URL, r.attempt)
			}
			want := "127.0.0.1" // directly
			if c.via {
				want = testproxy.Source
			}
			if peer, _, _ := c.rc.last(); peer != want {
				t.Errorf("%s: %s was reached from %s, want %s", tc.name, c.rc.URL, peer, want)
			}
		}
	}
}

// asIf asks choose about a URL as if its host were name.
func asIf(name string, choose ProxyFunc) ProxyFunc {
	return func(u *url.URL) (*url.URL, error) {
		_, port, _ := net.SplitHostPort(u.Host)
		return choose(&url.URL{Scheme: u.Scheme, Host: net.JoinHostPort(name, port)})
	}
}

// A proxy that cannot be reached, does not answer, or refuses the
// tunnel fails the attempt with an error that names the proxy; such
// an attempt is not "blocked", so it is retried on the schedule
// (TestJudge). The connect timeout bounds the wait for the proxy, and
// the request's deadline holds inside the tunnel.
func TestProxyFailures(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, false)
	cfg := testConfig()
	cfg.ConnectTimeout = 300 * time.Millisecond

	closed := freeLoopbackPort(t)
	cfg.Proxy = viaProxy(&url.URL{Scheme: "http", Host: "127.0.0.1:" + closed})
	r := sendVia(t, newClient(cfg, Guard{}, nil), rc)
	if r.blocked || r.attempt.StatusCode != 0 || !strings.Contains(r.attempt.Error, "connecting to the proxy") || !strings.Contains(r.attempt.Error, "refused") {
		t.Errorf("unreachable proxy: blocked %v, %+v", r.blocked, r.attempt)
	}

	silent := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.Copy(io.Discard, r) // reads the CONNECT, never answers
	})
	cfg.Proxy = viaProxy(&url.URL{Scheme: "http", Host: silent.ln.Addr().String()})
	start := time.Now()
	r = sendVia(t, newClient(cfg, Guard{}, nil), rc)
	if took := time.Since(start); r.blocked || !strings.Contains(r.attempt.Error, "timed out") || !strings.Contains(r.attempt.Error, silent.ln.Addr().String()) ||
		took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("silent proxy: %+v after %v, want a timeout naming the proxy after the connect timeout", r.attempt, took)
	}

	// A tunnel that opens and then carries nothing: an https receiver's
	// handshake is bounded by the connect timeout, an http receiver's
	// answer by the request's deadline.
	stalling := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		if _, _, err := readRequest(r); err == nil { // the CONNECT
			fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			_, _ = io.Copy(io.Discard, r)
		}
	})
	cfg.Proxy = viaProxy(&url.URL{Scheme: "http", Host: stalling.ln.Addr().String()})
	stalled := newClient(cfg, Guard{}, nil)
	for _, tc := range []struct {
		url      string
		deadline time.Duration
	}{
		{strings.Replace(rc.URL, "http:", "https:", 1), 3 * time.Second},
		{rc.URL, 500 * time.Millisecond},
	} {
		tg, _ := testTarget(t, tc.url, "POST")
		start := time.Now()
		done := make(chan result, 1)
		go func() { done <- send(stalled, start.Add(tc.deadline), tg, testMsg, 1) }()
		select {
		case r := <-done:
			if took := time.Since(start); !strings.Contains(r.attempt.Error, "timed out") || took < 250*time.Millisecond || took > 2*time.Second {
				t.Errorf("%s through a stalled tunnel: %+v after %v", tc.url, r.attempt, took)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: a stalled tunnel held the request past its deadline", tc.url)
		}
	}

	// A port tinyproxy was not told to tunnel to: 403.
	proxy := testproxy.Start(t, []string{"9"})
	cfg.Proxy = viaProxy(proxy.URL(""))
	r = sendVia(t, newClient(cfg, Guard{}, nil), rc)
	if r.blocked || !strings.Contains(r.attempt.Error, "proxy "+proxy.Addr+" refused the tunnel to "+rc.Listener.Addr().String()) ||
		!strings.Contains(r.attempt.Error, "403") {
		t.Errorf("tunnel refused: %+v", r.attempt)
	}
	if _, _, n := rc.last(); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
}

// Through a proxy, a URL whose host is a blocked address, in any
// spelling, is refused before the proxy is asked: the "proxy" here only
// records what it is asked (and dials nothing).
func TestProxyRefusesBlockedLiterals(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []string
	recorder := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		line, _ := r.ReadString('\n')
		mu.Lock()
		asked = append(asked, line)
		mu.Unlock()
		fmt.Fprint(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
	})
	cfg := testConfig()
	cfg.Proxy = viaProxy(&url.URL{Scheme: "http", Host: recorder.ln.Addr().String()})
	for _, tc := range []struct {
		url  string
		deny bool
	}{
		{"http://169.254.169.254/latest/meta-data/", false},
		{"https://[64:ff9b::a9fe:a9fe]/", false},
		{"http://[2002:a9fe:a9fe::1]:8080/", false},
		{"http://[::169.254.169.254]/", false},
		{"http://[::ffff:169.254.169.254]/", false},
		{"http://0xa9fea9fe/", false},
		{"http://0251.0376.0251.0376/", false},
		{"http://255.255.255.255/", false},
		{"http://100.100.100.200/", false},
		{"http://[fd00:ec2::254]/", false},
		{"http://[::127.0.0.1]/", true},
		{"http://127.1:8080/", true},
		{"http://100.64.0.1/", true},
		{"https://198.18.0.1/", true},
	} {
		tg, _ := testTarget(t, tc.url, "POST")
		r := send(newClient(cfg, Guard{DenyPrivate: tc.deny}, nil), time.Now().Add(2*time.Second), tg, testMsg, 1)
		if !r.blocked || !strings.Contains(r.attempt.Error, "is blocked") {
			t.Errorf("%s (deny_private %v): blocked %v, %+v", tc.url, tc.deny, r.blocked, r.attempt)
		}
	}
	// A name is the proxy's to resolve; it is asked.
	tg, _ := testTarget(t, "http://metadata.example/", "POST")
	if r := send(newClient(cfg, Guard{DenyPrivate: true}, nil), time.Now().Add(2*time.Second), tg, testMsg, 1); r.blocked || !strings.Contains(r.attempt.Error, "403") {
		t.Errorf("a name through the proxy: blocked %v, %+v", r.blocked, r.attempt)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != "CONNECT metadata.example:80 HTTP/1.1\r\n" {
		t.Errorf("the proxy was asked %q, want only the tunnel to metadata.example:80", asked)
	}
}

// The variables as Herald reads them: unset, no proxy (the client as
// before); lower-case forms count; values Herald cannot use stop it with
// an error naming the variable but not the password; the log's copy has
// no credentials.
func TestProxyFromEnvironment(t *testing.T) {
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		t.Setenv(name, "")
	}
	if p, err := ProxyFromEnvironment(); p != nil || err != nil {
		t.Fatalf("no variables: %+v, %v", p, err)
	}
	t.Setenv("https_proxy", "http://herald:pa55word@proxy.example:3128")
	t.Setenv("no_proxy", "hooks.example.com")
	p, err := ProxyFromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	if p.HTTPS != "http://proxy.example:3128" || p.HTTP != "" || p.NoProxy != "hooks.example.com" {
		t.Errorf("shown as %q, %q, %q", p.HTTPS, p.HTTP, p.NoProxy)
	}
	for _, tc := range []struct{ url, want string }{
		{"https://receiver.example:443", "http://herald:pa55word@proxy.example:3128"},
		{"http://receiver.example:80", ""},
		{"https://hooks.example.com:443", ""},
		{"https://sub.hooks.example.com:8443", ""},
		{"https://127.0.0.1:443", ""},
		{"https://localhost:443", ""},
		{"https://[::1]:443", ""},
	} {
		got, err := p.Choose(mustParse(t, tc.url))
		if err != nil || (got == nil) != (tc.want == "") || (got != nil && got.String() != tc.want) {
			t.Errorf("proxy for %s = %v, %v; want %q", tc.url, got, err, tc.want)
		}
	}

	t.Setenv("https_proxy", "")
	t.Setenv("no_proxy", "")
	t.Setenv("HTTP_PROXY", "proxy.example:3128") // no scheme: http
	t.Setenv("NO_PROXY", "10.0.0.0/8")
	p, err = ProxyFromEnvironment()
	if err != nil || p.HTTP != "http://proxy.example:3128" {
		t.Fatalf("HTTP_PROXY without a scheme: %+v, %v", p, err)
	}
	for _, tc := range []struct{ url, want string }{
		{"http://10.1.2.3:80", ""},
		{"http://11.1.2.3:80", "http://proxy.example:3128"},
		{"https://11.1.2.3:443", ""},
	} {
		got, err := p.Choose(mustParse(t, tc.url))
		if err != nil || (got == nil) != (tc.want == "") || (got != nil && got.String() != tc.want) {
			t.Errorf("proxy for %s = %v, %v; want %q", tc.url, got, err, tc.want)
		}
	}

	for _, tc := range []struct{ name, value, want string }{
		{"HTTPS_PROXY", "https://herald:pa55word@proxy.example:3128", "https:// proxy is not supported"},
		{"HTTPS_PROXY", "socks5://herald:pa55word@proxy.example:1080", "socks5:// proxy is not supported"},
		{"HTTP_PROXY", "http://herald:pa55word@:3128", "no host"},
		{"HTTP_PROXY", "http://herald:pa55word@proxy.example:3128\x7f", "not a URL"},
	} {
		t.Setenv("HTTPS_PROXY", "")
		t.Setenv("HTTP_PROXY", "")
		t.Setenv(tc.name, tc.value)
		_, err := ProxyFromEnvironment()
		if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pa55word") {
			t.Errorf("%s=%q: %v, want an error naming %s and saying %q, without the password", tc.name, tc.value, err, tc.name, tc.want)
		}
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
