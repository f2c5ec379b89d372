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
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// These tests send through the engine's client (client.go) to receivers
// on loopback, some of them raw TCP servers, to see the bytes on the wire.

func testConfig() Config {
	return Config{ConnectTimeout: time.Second, RequestTimeout: 2 * time.Second, Senders: 4}
}

// testTarget is a webhook to url with a token, signed with a known secret.
func testTarget(t *testing.T, url, method string) (*target, string) {
	t.Helper()
	secret := NewSigningSecret()
	tg, err := newTarget(herald.Webhook{ID: 1, URL: url, Method: method, Token: "tok", SigningSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return tg, secret
}

var testMsg = Message{EventID: "evt_1", EventType: herald.EventUserCreated, Payload: []byte(`{"username":"ann"}`)}

// rawServer accepts connections on loopback and runs serve on each; it
// counts the connections.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int32
}

func newRawServer(t *testing.T, serve func(c net.Conn, r *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return s
}

func (s *rawServer) url(path string) string { return "http://" + s.ln.Addr().String() + path }

// readRequest reads one request's head (lines, in order) and body.
func readRequest(r *bufio.Reader) (lines []string, body string, err error) {
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		lines = append(lines, line)
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			length, _ = strconv.Atoi(v)
		}
	}
	b := make([]byte, length)
	_, err = io.ReadFull(r, b)
	return lines, string(b), err
}

// The request on the wire, as docs/receivers.md ("A request", "Headers")
// shows it: the method (GET, the default, carries the body too), the path
// (exactly as written in the URL) and query, the headers with their names
// exactly as that page writes them, a valid
// signature, the body as stored; and the answer's status and body (after
// large headers) are what the attempt reports.
func TestSendWire(t *testing.T) {
	got := make(chan []string, 1)
	srv := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		lines, body, err := readRequest(r)
		if err != nil {
			return
		}
		got <- append(lines, "BODY "+body)
		// Proxies add large headers: 20 KiB of them here.
		fmt.Fprintf(c, "HTTP/1.1 202 Accepted\r\nContent-Security-Policy: %s\r\nContent-Length: 6\r\n\r\nthanks", strings.Repeat("a", 20<<10))
	})
	for _, method := range []string{"", "POST"} {
		tg, secret := testTarget(t, srv.url("/hook/a%2Fb//c/./d?a=1"), method)
		now := time.Now()
		r := send(newClient(testConfig(), Guard{}, nil), now.Add(2*time.Second), tg, testMsg, 3)
		if r.attempt.StatusCode != 202 || r.attempt.ResponseBody != "thanks" || r.attempt.Error != "" || r.attempt.N != 3 {
			t.Fatalf("method %q: attempt = %+v", method, r.attempt)
		}
		lines := <-got
		wantMethod := method
		if wantMethod == "" {
			wantMethod = "GET"
		}
		if lines[0] != wantMethod+" /hook/a%2Fb//c/./d?a=1 HTTP/1.1" {
			t.Errorf("request line %q", lines[0])
		}
		if lines[len(lines)-1] != "BODY "+string(testMsg.Payload) {
			t.Errorf("body line %q", lines[len(lines)-1])
		}
		head := map[string]string{}
		for _, l := range lines[1 : len(lines)-1] {
			name, value, _ := strings.Cut(l, ": ")
			head[name] = value
		}
		sig, _ := Sign([]string{secret}, "evt_1", now.Unix(), testMsg.Payload)
		for name, want := range map[string]string{
			"Host":              srv.ln.Addr().String(),
			"X-Defguard-Event":  "user_created",
			"Authorization":     "Bearer tok",
			"Content-Type":      "application/json",
			"Content-Length":    strconv.Itoa(len(testMsg.Payload)),
			"User-Agent":        "Herald/" + herald.Version,
			"webhook-id":        "evt_1",
			"webhook-timestamp": strconv.FormatInt(now.Unix(), 10),
			"webhook-signature": sig,
		} {
			if head[name] != want {
				t.Errorf("method %q: header %q = %q, want %q (all: %q)", method, name, head[name], want, lines)
			}
		}
	}
}

// Keep-alive: requests reuse one connection. A receiver that closes its
// end of an idle kept-alive connection costs no failed attempt: the
// request goes again at once on a new connection, once.
func TestSendReusesAndRecoversConnections(t *testing.T) {
	var closeAfter atomic.Int32
	srv := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		for n := int32(1); ; n++ {
			if _, _, err := readRequest(r); err != nil {
				return
			}
			fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			if n == closeAfter.Load() {
				return // closes without saying so
			}
		}
	})
	client := newClient(testConfig(), Guard{}, nil)
	tg, _ := testTarget(t, srv.url("/"), "POST")
	sendOK := func() {
		t.Helper()
		if r := send(client, time.Now().Add(2*time.Second), tg, testMsg, 1); r.attempt.StatusCode != 200 {
			t.Fatalf("attempt = %+v", r.attempt)
		}
	}
	for range 3 {
		sendOK()
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("3 requests took %d connections, want 1", n)
	}
	closeAfter.Store(1) // the next connection closes after one answer
	client.CloseIdleConnections()
	sendOK()
	time.Sleep(50 * time.Millisecond) // the close reaches the client
	sendOK()
	if n := srv.conns.Load(); n != 3 {
		t.Fatalf("connections = %d, want 3 (the first, one closed after its answer, its successor)", n)
	}
}

// Failures are the attempt's: a receiver that never answers ends in a
// timeout at the deadline, and is not asked again (fasthttp alone would
// ask five times for a GET); one that hangs up is asked once more; an
// https receiver that never completes the handshake ends at the
// deadline too; a refused connection, a blocked address and a redirect
// are reported as such.
func TestSendFailures(t *testing.T) {
	silent := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.Copy(io.Discard, r) // reads, never answers
	})
	client := newClient(testConfig(), Guard{}, nil)
	tg, _ := testTarget(t, silent.url("/"), "") // GET: fasthttp alone would resend it
	start := time.Now()
	r := send(client, start.Add(300*time.Millisecond), tg, testMsg, 1)
	if took := time.Since(start); !strings.Contains(r.attempt.Error, "timed out") || took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("silent receiver: %+v after %v", r.attempt, took)
	}
	if n := silent.conns.Load(); n != 1 {
		t.Errorf("silent receiver was asked on %d connections, want 1", n)
	}

	hangUp := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		_, _, _ = readRequest(r) // and closes without an answer
	})
	tg, _ = testTarget(t, hangUp.url("/"), "")
	if r := send(client, time.Now().Add(time.Second), tg, testMsg, 1); r.attempt.StatusCode != 0 || !strings.Contains(r.attempt.Error, "closed the connection") {
		t.Errorf("receiver hanging up: %+v", r.attempt)
	}
	if n := hangUp.conns.Load(); n != 2 {
		t.Errorf("a receiver hanging up was asked on %d connections, want 2 (one resend)", n)
	}

	tg, _ = testTarget(t, strings.Replace(silent.url("/"), "http:", "https:", 1), "POST")
	done := make(chan result, 1)
	go func() { done <- send(client, time.Now().Add(300*time.Millisecond), tg, testMsg, 1) }()
	select {
	case r := <-done:
		if !strings.Contains(r.attempt.Error, "timed out") {
			t.Errorf("https receiver silent in the handshake: %+v", r.attempt)
		}
	case <-time.After(3 * time.Second):
		t.Error("an https receiver silent in the handshake held the request past its deadline")
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	tg, _ = testTarget(t, closed, "POST")
	if r := send(client, time.Now().Add(time.Second), tg, testMsg, 1); r.attempt.StatusCode != 0 || !strings.Contains(r.attempt.Error, "refused") {
		t.Errorf("closed port: %+v", r.attempt)
	}

	guarded := newClient(testConfig(), Guard{DenyPrivate: true}, nil)
	tg, _ = testTarget(t, silent.url("/"), "POST")
	if r := send(guarded, time.Now().Add(time.Second), tg, testMsg, 1); !r.blocked || !strings.Contains(r.attempt.Error, "blocked") {
		t.Errorf("denied loopback: blocked %v, %+v", r.blocked, r.attempt)
	}

	redirect := httptest.NewServer(http.RedirectHandler("http://elsewhere.example/", http.StatusFound))
	defer redirect.Close()
	tg, _ = testTarget(t, redirect.URL, "POST")
	if r := send(client, time.Now().Add(time.Second), tg, testMsg, 1); r.attempt.StatusCode != 302 || !strings.Contains(r.attempt.Error, "elsewhere.example") {
		t.Errorf("redirect: %+v", r.attempt)
	}
}

// A long answer is kept up to maxResponseBody; Retry-After is read
// whatever the case of its name; the connection still serves the next
// request when the rest of the answer was short enough to skip.
func TestSendLongAnswerAndRetryAfter(t *testing.T) {
	long := strings.Repeat("x", maxResponseBody+1000)
	srv := newRawServer(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, _, err := readRequest(r); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\nContent-Length: %d\r\n\r\n%s", len(long), long)
		}
	})
	client := newClient(testConfig(), Guard{}, nil)
	tg, _ := testTarget(t, srv.url("/"), "POST")
	for range 2 {
		r := send(client, time.Now().Add(2*time.Second), tg, testMsg, 1)
		if r.attempt.StatusCode != 503 || r.attempt.ResponseBody != long[:maxResponseBody] || r.retryAfter != "7" {
			t.Fatalf("status %d, body of %d bytes, Retry-After %q", r.attempt.StatusCode, len(r.attempt.ResponseBody), r.retryAfter)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}

// HTTPS receivers work: the client checks the certificate against the
// roots it is given (the system's in the engine).
func TestSendTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("webhook-id") != "evt_1" || string(body) != string(testMsg.Payload) {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	tg, _ := testTarget(t, srv.URL+"/hook", "POST")
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	trusting := newClient(testConfig(), Guard{}, &tls.Config{RootCAs: roots})
	if r := send(trusting, time.Now().Add(2*time.Second), tg, testMsg, 1); r.attempt.StatusCode != 200 {
		t.Fatalf("attempt = %+v", r.attempt)
	}
	system := newClient(testConfig(), Guard{}, nil)
	if r := send(system, time.Now().Add(2*time.Second), tg, testMsg, 1); r.attempt.StatusCode != 0 || !strings.Contains(r.attempt.Error, "certificate") {
		t.Fatalf("an unknown certificate was accepted: %+v", r.attempt)
	}
}
