package delivery

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// newClient returns the HTTP client webhook requests go out through.
//
// It is fasthttp's, not net/http's: measured in the throughput benchmark
// (docs/benchmarks.md), net/http's client, whose every request passes
// between three goroutines, took about 40 % of Herald's CPU, and
// fasthttp's cut Herald's CPU per delivery by more than a quarter. Requests
// are HTTP/1.1 (fasthttp has no HTTP/2), over keep-alive connections.
//
// What net/http did for us is set here:
//   - dialling goes through the egress guard (after DNS, so a name cannot
//     route around it), within the connect timeout and the request's time;
//   - an https connection's TLS handshake is bounded by the connect
//     timeout too (fasthttp runs it inside the request's first write,
//     before it sets any read deadline);
//   - a proxy only when cfg.Proxy chooses one (proxy.go), through a
//     CONNECT tunnel; redirects are not followed (Do never does);
//   - header names and the URL's path go out exactly as given (fasthttp
//     would recase the names, and decode %2F and collapse // in paths);
//   - answers with up to 64 KiB of headers are read (fasthttp's default
//     is 4 KiB, which proxies adding large headers exceed); bodies are
//     streamed, so a long answer is read only as far as the delivery log
//     keeps it.
//
// tlsConfig is nil for the system's roots (tests pass their own).
func newClient(cfg Config, guard Guard, tlsConfig *tls.Config) *fasthttp.Client {
	dialer := net.Dialer{KeepAlive: 30 * time.Second, Control: guard.control}
	client := &fasthttp.Client{
		// remaining is what is left of the request's time.
		DialTimeout: func(addr string, remaining time.Duration) (net.Conn, error) {
			end := time.Now().Add(remaining)
			d := dialer
			d.Deadline = earliest(time.Now().Add(cfg.ConnectTimeout), end)
			conn, err := d.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			// Bounds a TLS handshake; the request sets its own
			// deadlines afterwards.
			_ = conn.SetReadDeadline(earliest(time.Now().Add(cfg.ConnectTimeout), end))
			return conn, nil
		},
		TLSConfig: tlsConfig,
		// Senders bounds the requests in flight, so per host too;
		// SendTest runs outside the senders and may have to wait.
		MaxConnsPerHost:               cfg.Senders,
		MaxConnWaitTimeout:            cfg.RequestTimeout,
		MaxIdleConnDuration:           90 * time.Second,
		ReadBufferSize:                64 << 10,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		StreamResponseBody:            true,
		RetryIfErr:                    retryStale,
	}
	if cfg.Proxy != nil {
		// Only then: without a proxy, host clients are made and dial
		// exactly as before.
		client.ConfigureClient = proxyHosts(cfg, guard)
	}
	return client
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// retryStale decides whether a failed request is sent again at once, as
// part of the same attempt: only once, and only when the connection ended
// before a complete answer. That is what a kept-alive connection does when
// the receiver has just closed it, and net/http resent then too; fasthttp
// reports it as an end of file whether the connection was new or reused,
// so a receiver that hangs up is asked twice. A resend is safe (at least
// once, same webhook-id). Any other failure is the attempt's outcome:
// fasthttp would otherwise resend a GET, the default method, up to five
// times, whatever the failure.
func retryStale(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	stale := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
	return false, attempts == 1 && stale
}
