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
// What net/http did for us is set here: dialling goes through the egress
// guard (after DNS, so a name cannot route around it) with the connect
// timeout; no proxy; header names are sent exactly as given; redirects
// are not followed (Do never does); bodies are streamed, so a long answer
// is read only as far as the delivery log keeps it. tlsConfig is nil for
// the system's roots (tests pass their own).
func newClient(cfg Config, guard Guard, tlsConfig *tls.Config) *fasthttp.Client {
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second, Control: guard.control}
	return &fasthttp.Client{
		Dial:      func(addr string) (net.Conn, error) { return dialer.Dial("tcp", addr) },
		TLSConfig: tlsConfig,
		// Workers bounds the requests in flight, so per host too;
		// SendTest runs outside the workers and may have to wait.
		MaxConnsPerHost:               cfg.Workers,
		MaxConnWaitTimeout:            cfg.RequestTimeout,
		MaxIdleConnDuration:           90 * time.Second,
		DisableHeaderNamesNormalizing: true,
		NoDefaultUserAgentHeader:      true,
		StreamResponseBody:            true,
		RetryIfErr:                    retryStale,
	}
}

// retryStale decides whether a failed request is sent again at once, as
// part of the same attempt: only once, and only when the connection broke
// before any answer, as a kept-alive connection does when the receiver
// has just closed it. net/http does the same. Any other failure is the
// attempt's outcome; a resend is safe anyway (at least once, same
// webhook-id). fasthttp would otherwise resend GET requests, the
// default method, up to five times.
func retryStale(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	stale := errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
	return false, attempts == 1 && stale
}
