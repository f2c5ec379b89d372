package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/testproxy"
)

// A webhook created through the API is delivered through the forward
// proxy the engine is given (Engine.Proxy, which herald serve fills from
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY; those never send loopback, where
// this receiver is, through a proxy, so the test sets the choice itself),
// and so is its test send. The proxy is a real tinyproxy; its log shows
// the tunnel.
func TestWebhookThroughProxy(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	receiverAddr := rc.ln.Addr().String()
	_, port, _ := net.SplitHostPort(receiverAddr)
	proxy := testproxy.Start(t, []string{port})
	s := startServer(t, func(c *app.Config) {
		c.Engine.Proxy = func(*url.URL) (*url.URL, error) { return proxy.URL(""), nil }
	})
	admin := s.admin()
	hook := admin.addWebhook(rc.URL, nil)
	createUser(admin, "pia")
	admin.waitDeliveries(hook.ID, "succeeded", 1, 5*time.Second)
	if n := proxy.Tunnels(t, receiverAddr); n != 1 {
		t.Fatalf("the proxy opened %d tunnels to the receiver, want 1", n)
	}
	var outcome map[string]any
	admin.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/webhook/%d/test", hook.ID), nil, &outcome)
	if outcome["success"] != true {
		t.Fatalf("test send through the proxy: %v", outcome)
	}
	if got := rc.all(); len(got) != 2 || got[0].Header.Get("webhook-id") == "" {
		t.Fatalf("the receiver got %d requests", len(got))
	}
}
