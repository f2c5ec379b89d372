package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// event is an entry of GET /api/v1/event.
type event struct {
	Seq     int64           `json:"seq"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Actor   actor           `json:"actor"`
	Payload json.RawMessage `json:"payload"`
}

// actor is who caused an event, as the event feed and envelopes give it.
type actor struct {
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
	TokenID  int64  `json:"token_id,omitempty"`
	Station  string `json:"station,omitempty"`
}

// user is the user object of the management API (the User schema of
// internal/api/openapi.json).
type user struct {
	ID        int64    `json:"id"`
	Username  string   `json:"username"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Email     string   `json:"email"`
	Phone     string   `json:"phone"`
	Groups    []string `json:"groups"`
	IsAdmin   bool     `json:"is_admin"`
	SSHKey    string   `json:"ssh_key"`
	PGPKey    string   `json:"pgp_key"`
	PGPCertID string   `json:"pgp_cert_id"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

// eventsAfter returns every event after seq.
func (c *client) eventsAfter(seq int64) []event {
	c.t.Helper()
	var evs []event
	c.expect(200, "GET", fmt.Sprintf("/api/v1/event?after=%d&limit=1000", seq), nil, &evs)
	return evs
}

// lastSeq returns the seq of the newest event.
func (c *client) lastSeq() int64 {
	c.t.Helper()
	evs := c.eventsAfter(0)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// wantEvents checks types, subjects and exact payload bytes, in order.
func wantEvents(t *testing.T, got []event, want ...[3]string) {
	t.Helper()
	var b strings.Builder
	for _, e := range got {
		fmt.Fprintf(&b, "  %s %s %s\n", e.Type, e.Subject, e.Payload)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n%s", len(got), len(want), b.String())
	}
	for i, w := range want {
		e := got[i]
		if e.Type != w[0] || e.Subject != w[1] || (w[2] != "" && string(e.Payload) != w[2]) {
			t.Fatalf("event %d is %s %s %s\nwant %s %s %s\nall:\n%s", i, e.Type, e.Subject, e.Payload, w[0], w[1], w[2], b.String())
		}
	}
}

// testdata reads a file of internal/keys/testdata, trimmed.
func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "keys", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// jsonString quotes s as JSON.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
