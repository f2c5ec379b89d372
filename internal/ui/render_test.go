package ui

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

// renderPage renders one template as a handler would and returns the HTML.
func renderPage(t *testing.T, name string, p page) string {
	t.Helper()
	h, err := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := h.render(w, httptest.NewRequest("GET", "/", nil), 200, name, p); err != nil || w.Code != 200 {
		t.Fatalf("render %s: %v, status %d", name, err, w.Code)
	}
	return w.Body.String()
}

// The edit form of a webhook with a token never has the token in its HTML.
func TestWebhookFormHasNoToken(t *testing.T) {
	hook := herald.Webhook{ID: 7, URL: "https://hooks.example.com/h", Description: "crm", Token: "my-secret-token",
		SigningSecret: "whsec_c2VjcmV0", Method: "GET", Triggers: herald.Triggers{OnUserCreated: true}, Enabled: true}
	v := formView(hook.ID)
	v.HasToken = true
	html := renderPage(t, "webhook_form", page{Title: "Edit · crm · Webhooks", Form: webhookForm(hook), Data: v})
	if strings.Contains(html, "my-secret-token") || strings.Contains(html, "whsec_") {
		t.Fatalf("the edit form has a secret in its HTML:\n%s", html)
	}
	if !strings.Contains(html, "Leave empty to keep the current token") {
		t.Fatal("the edit form does not say an empty token keeps the current one")
	}
	// Shown again after an error, a typed token is not filled back in.
	f := withoutToken(url.Values{"url": {"x"}, "token": {"typed-token"}})
	html = renderPage(t, "webhook_form", page{Title: "Add webhook · Webhooks", Form: f, Data: formView(0),
		Errors: fieldErrors(herald.Invalid("url", "is bad"), webhookFields...)})
	if strings.Contains(html, "typed-token") || !strings.Contains(html, `id="token-retype"`) || !strings.Contains(html, `id="url-error"`) {
		t.Fatalf("the form shown again:\n%s", html)
	}
}

// A delivery's attempts are a table row each, with no Go value syntax.
func TestDeliveryPageAttempts(t *testing.T) {
	start := time.Date(2026, 12, 4, 14, 55, 3, 0, time.UTC)
	d := directory.DeliveryDetail{Delivery: herald.Delivery{ID: 3, Event: "user_created", Status: "failed", Attempts: 7, CreatedAt: start}}
	for i := range 7 {
		d.Attempts = append(d.Attempts, herald.Attempt{N: i + 1, StartedAt: start.Add(time.Duration(i) * time.Minute), DurationMS: 12, StatusCode: 500, ResponseBody: "oops"})
	}
	html := renderPage(t, "delivery", page{Title: "Delivery 3", Data: deliveryView{TargetID: 1, Name: "CRM", Base: "/webhooks/1", Kind: "Webhook", Delivery: d}})
	if !strings.Contains(html, `<a href="/webhooks/1">← Webhook 1: CRM</a>`) {
		t.Errorf("no link back to the webhook:\n%s", html)
	}
	if strings.Contains(html, "[{") || strings.Contains(html, "+0000 UTC") {
		t.Fatalf("Go value syntax on the delivery page:\n%s", html)
	}
	if n := strings.Count(html, `data-label="Attempt"`); n != 7 {
		t.Fatalf("%d attempt rows, want 7", n)
	}
	if !strings.Contains(html, `<dd id="attempt-count">7</dd>`) {
		t.Fatal("the attempt count is not 7")
	}
}

// A SCIM target's pages say whether a token is set and never show it; its
// page shows the last resync.
func TestSCIMTargetPagesHaveNoToken(t *testing.T) {
	target := herald.SCIMTarget{ID: 4, Name: "App", BaseURL: "https://app.example.com/scim/v2", Token: "scim-secret-token", TokenSet: true,
		Enabled: true, Deprovision: "deactivate", LastResync: &herald.SCIMResync{At: time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC),
			Users: herald.SCIMResyncCounts{Created: 3, Unchanged: 9}}}
	html := renderPage(t, "scim_form", page{Title: "Edit · App · SCIM targets", Form: scimForm(target), Data: scimFormView{ID: 4, HasToken: true}})
	if strings.Contains(html, "scim-secret-token") || !strings.Contains(html, "A token is set") {
		t.Fatalf("the edit form:\n%s", html)
	}
	html = renderPage(t, "scim_target", page{Title: "App · SCIM targets", Data: scimTargetView{Target: scimRow{SCIMTarget: target, State: "new"},
		DeliveryLog: DeliveryLog{Base: "/scim/4"}}})
	if strings.Contains(html, "scim-secret-token") || !strings.Contains(html, `id="resync-counts"`) || !strings.Contains(html, "<td>3</td>") {
		t.Fatalf("the target's page:\n%s", html)
	}
	// The form keeps an empty token field as "keep", and removes it only
	// when asked.
	if in := scimInput(url.Values{"name": {"x"}}); in.Token != nil {
		t.Errorf("an empty token field gives token %q, want nil (keep)", *in.Token)
	}
	if in := scimInput(url.Values{"clear_token": {"on"}}); in.Token == nil || *in.Token != "" {
		t.Error("Remove the token does not clear it")
	}
}
