package delivery

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpproxy"

	"github.com/heraldhq/herald"
)

// Webhook requests through a forward proxy (docs/configuration.md, Webhook
// requests through a proxy).
//
// Every request through a proxy goes through a CONNECT tunnel to the
// receiver, for http and https receivers alike; an https receiver's TLS
// runs inside the tunnel, end to end, and its certificate is checked as
// without a proxy. Plain-HTTP receivers are not sent in absolute form
// ("POST http://host/path") as net/http does: fasthttp cannot write that
// request line, and in a tunnel the request reaches the receiver byte for
// byte as without a proxy (header names' case, the path as written, no
// header added or dropped on the way). The cost: the proxy must allow
// CONNECT to the receiver's port (Squid, for one, allows only 443 by
// default); docs/configuration.md says so.
//
// The proxy resolves the receiver's name, so the guard cannot see the
// address it dials: Herald refuses only a URL whose host is itself a
// blocked address (Guard.checkHost), and trusts the proxy with names.
// The proxy's own address is the operator's choice and is not judged.
//
// Connections are kept alive per receiver as without a proxy (a tunnel
// each); the proxy is chosen once per receiver host, when fasthttp makes
// its host client, not per request.

// ProxyFunc chooses the proxy for a webhook request from its URL (scheme
// and host:port only): the proxy's URL, or nil to connect directly. It
// has the signature of httpproxy.Config.ProxyFunc.
type ProxyFunc func(*url.URL) (*url.URL, error)

// Proxy is the proxy settings read from the environment.
type Proxy struct {
	// Choose decides per receiver, with the usual meaning of the
	// variables (golang.org/x/net/http/httpproxy, as net/http): https
	// URLs use HTTPS_PROXY, http URLs HTTP_PROXY; NO_PROXY lists hosts,
	// domains (and their subdomains), IP addresses and CIDR ranges,
	// optionally with a port, or "*", that connect directly; localhost
	// and loopback addresses always connect directly.
	Choose ProxyFunc
	// HTTPS, HTTP and NoProxy are the settings with any credentials
	// left out, for the log.
	HTTPS, HTTP, NoProxy string
}

// ProxyFromEnvironment reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or
// their lower-case forms), once. It returns nil when neither proxy
// variable is set: requests connect directly, by the client's unchanged
// path. A value Herald cannot use is an error naming its variable (and
// not its credentials): net/http would quietly connect directly instead.
func ProxyFromEnvironment() (*Proxy, error) {
	return proxyFromConfig(*httpproxy.FromEnvironment())
}

func proxyFromConfig(cfg httpproxy.Config) (*Proxy, error) {
	if cfg.HTTPSProxy == "" && cfg.HTTPProxy == "" {
		return nil, nil
	}
	p := &Proxy{NoProxy: cfg.NoProxy}
	for _, v := range []struct {
		name, value string
		shown       *string
	}{{"HTTPS_PROXY", cfg.HTTPSProxy, &p.HTTPS}, {"HTTP_PROXY", cfg.HTTPProxy, &p.HTTP}} {
		if v.value == "" {
			continue
		}
		u, err := parseProxyURL(v.value)
		if err != nil {
			return nil, fmt.Errorf("%s (or %s): %w", v.name, strings.ToLower(v.name), err)
		}
		*v.shown = u.Scheme + "://" + u.Host
	}
	if cfg.CGI && cfg.HTTPProxy != "" {
		// httpproxy would refuse every http request (httpoxy).
		return nil, errors.New("HTTP_PROXY is not used when REQUEST_METHOD is set (a CGI environment): unset one of them")
	}
	p.Choose = cfg.ProxyFunc()
	return p, nil
}

// parseProxyURL reads a proxy variable as httpproxy does ("host:port"
// means "http://host:port") and checks that Herald can use it. Errors
// never quote the value, which may hold a password.
func parseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if u2, err2 := url.Parse("http://" + s); err2 == nil {
			u, err = u2, nil
		}
	}
	if err != nil {
		return nil, errors.New("not a URL like http://proxy.example:3128")
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("a %s:// proxy is not supported: give the proxy as http://host:port "+
			"(requests to https receivers are encrypted end to end through it either way)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("the URL has no host: give the proxy as http://host:port")
	}
	return u, nil
}

// proxyHosts returns the ConfigureClient hook of the client: each host
// client whose receiver the proxy function sends through a proxy dials
// that proxy and opens a tunnel; the others dial directly, as with no
// proxy at all.
func proxyHosts(cfg Config, guard Guard) func(*fasthttp.HostClient) error {
	return func(hc *fasthttp.HostClient) error {
		target := &url.URL{Scheme: "http", Host: hc.Addr} // host:port
		if hc.IsTLS {
			target.Scheme = "https"
		}
		proxyURL, err := cfg.Proxy(target)
		if err != nil {
			// Its text may quote a proxy variable, password and all.
			return errors.New("the proxy settings cannot be used for this URL")
		}
		if proxyURL == nil {
			return nil // directly, through the guard's dial check
		}
		host, _, err := net.SplitHostPort(hc.Addr)
		if err != nil {
			return err
		}
		if err := guard.checkHost(host); err != nil {
			return err
		}
		t, err := newTunnel(proxyURL, cfg.ConnectTimeout)
		if err != nil {
			return err
		}
		hc.DialTimeout = t.dial
		return nil
	}
}

// tunnel dials receivers through an HTTP proxy with CONNECT.
type tunnel struct {
	// addr is the proxy's host:port; shown in errors (no credentials).
	addr           string
	auth           string // the Proxy-Authorization line, or ""
	connectTimeout time.Duration
}

func newTunnel(proxyURL *url.URL, connectTimeout time.Duration) (*tunnel, error) {
	if proxyURL.Scheme != "http" {
		return nil, fmt.Errorf("a %s:// proxy is not supported", proxyURL.Scheme)
	}
	port := proxyURL.Port()
	if port == "" {
		port = "80"
	}
	t := &tunnel{addr: net.JoinHostPort(proxyURL.Hostname(), port), connectTimeout: connectTimeout}
	if u := proxyURL.User; u != nil {
		// Decoded, as net/http sends them (a %40 in the URL is an @).
		password, _ := u.Password()
		t.auth = "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+password)) + "\r\n"
	}
	return t, nil
}

// dial returns a connection to addr (the receiver's host:port) through
// the proxy, as fasthttp's DialTimeout: remaining is what is left of the
// request's time. Connecting to the proxy and its answer to CONNECT
// (which comes once the proxy has reached the receiver) are bounded
// together by the connect timeout; an https receiver's handshake, which
// follows, by the connect timeout again, as without a proxy.
func (t *tunnel) dial(addr string, remaining time.Duration) (net.Conn, error) {
	end := time.Now().Add(remaining)
	connectBy := earliest(time.Now().Add(t.connectTimeout), end)
	// Not through the guard: the operator chose the proxy, wherever it is.
	d := net.Dialer{KeepAlive: 30 * time.Second, Deadline: connectBy}
	conn, err := d.Dial("tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the proxy: %w", err)
	}
	tunneled, err := t.connect(conn, addr, connectBy)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	_ = conn.SetReadDeadline(earliest(time.Now().Add(t.connectTimeout), end))
	return tunneled, nil
}

// connect asks the proxy on conn for a tunnel to addr.
func (t *tunnel) connect(conn net.Conn, addr string, deadline time.Time) (net.Conn, error) {
	_ = conn.SetDeadline(deadline)
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: Herald/" + herald.Version + "\r\n" + t.auth + "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, fmt.Errorf("asking the proxy %s for a tunnel: %w", t.addr, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("the proxy %s did not answer the tunnel request: %w", t.addr, err)
	}
	// resp.Body is not read: after a 2xx it would be the tunnel itself
	// (Go reads an answer without a length as running to the end), and
	// a refusal's page goes with the connection.
	switch {
	case resp.StatusCode == http.StatusProxyAuthRequired || resp.StatusCode == http.StatusUnauthorized:
		// 407 is the rule; tinyproxy, for one, answers 401.
		return nil, fmt.Errorf("the proxy %s refused the tunnel to %s: %s (check the user and password in the proxy variable)", t.addr, addr, resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("the proxy %s refused the tunnel to %s: %s", t.addr, addr, resp.Status)
	}
	if br.Buffered() > 0 {
		// Bytes past the answer are the receiver's; none are expected
		// before the client speaks, but none may be lost.
		return &bufferedConn{conn, br}, nil
	}
	return conn, nil
}

// bufferedConn reads what a bufio.Reader holds before the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
