package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/web"
)

// webhookRoutes are for admins only, like webhooks in the API.
func (h *Handler) webhookRoutes() []web.Route {
	webhooks := h.webhookKind()
	return []web.Route{
		{Pattern: "GET /webhooks", Access: web.Admin, Handle: h.webhooks},
		{Pattern: "GET /webhooks/new", Access: web.Admin, Handle: h.newWebhookPage},
		{Pattern: "POST /webhooks/new", Access: web.Admin, Handle: h.createWebhook},
		{Pattern: "GET /webhooks/{id}", Access: web.Admin, Handle: web.WithID("id", h.webhookPage)},
		{Pattern: "GET /webhooks/{id}/edit", Access: web.Admin, Handle: web.WithID("id", h.editWebhookPage)},
		{Pattern: "POST /webhooks/{id}/edit", Access: web.Admin, Handle: web.WithID("id", h.saveWebhook)},
		{Pattern: "POST /webhooks/{id}/enabled", Access: web.Admin, Handle: h.setTargetEnabled(webhooks)},
		{Pattern: "GET /webhooks/{id}/delete", Access: web.Admin, Handle: h.confirmDeleteTarget(webhooks)},
		{Pattern: "POST /webhooks/{id}/delete", Access: web.Admin, Handle: h.deleteTarget(webhooks)},
		{Pattern: "POST /webhooks/{id}/test", Access: web.Admin, Handle: web.WithID("id", h.testWebhook)},
		{Pattern: "GET /webhooks/{id}/rotate", Access: web.Admin, Handle: web.WithID("id", h.confirmRotate)},
		{Pattern: "POST /webhooks/{id}/rotate", Access: web.Admin, Handle: web.WithID("id", h.rotateSecret)},
		{Pattern: "POST /webhooks/{id}/replay", Access: web.Admin, Handle: web.WithID("id", h.replay)},
		{Pattern: "GET /webhooks/{id}/deliveries/{did}", Access: web.Admin, Handle: h.targetDeliveryPage(webhooks)},
		{Pattern: "POST /webhooks/{id}/deliveries/{did}/redeliver", Access: web.Admin, Handle: h.redeliverTarget(webhooks)},
	}
}

// webhookKind is what the pages shared with SCIM targets need of webhooks.
func (h *Handler) webhookKind() targetKind {
	return targetKind{
		base: "/webhooks", noun: "webhook", nounTitle: "Webhook", plural: "Webhooks",
		enabled:  "Webhook enabled.",
		disabled: "Webhook disabled: it finishes what it was given and gets nothing new.",
		describe: func(ctx context.Context, a directory.Actor, id int64) (string, string, error) {
			hook, err := h.dir.GetWebhook(ctx, a, id)
			return hook.Description, fmt.Sprintf("Delete the webhook to %s (%s)? Deliveries not yet sent are dropped, with its delivery log.",
				hook.URL, hook.Description), err
		},
		setEnabled: onlyErr(h.dir.SetWebhookEnabled),
		remove:     h.dir.DeleteWebhook, delivery: h.dir.GetDelivery, redeliver: h.dir.Redeliver,
	}
}

var webhookFields = []string{"url", "description", "token", "method", "events", "format", "ignore_actors", "only_groups", "since"}

// webhookRow is a webhook as the list shows it.
type webhookRow struct {
	herald.Webhook
	Triggers []string
	Health   herald.WebhookHealth
	State    string // herald.WebhookHealth.State
}

// triggerNames names the events w subscribes to, for people.
func triggerNames(w herald.Webhook) []string {
	var out []string
	for _, et := range herald.EventTypes {
		if w.Wants(et.Name) {
			out = append(out, strings.ToLower(et.Label[:1])+et.Label[1:])
		}
	}
	return out
}

// webhooksView is one page of the webhooks list.
type webhooksView struct {
	Webhooks []webhookRow
	Pager    pager
}

func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := h.dir.ListWebhooks(r.Context(), actor(r))
	if err != nil {
		return err
	}
	pg := pagerFor(r, "webhooks")
	hooks = pageOf(hooks, &pg, func(hk herald.Webhook) string { return hk.URL + " " + hk.Description })
	rows, err := h.webhookRows(r, hooks)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "webhooks", page{Title: "Webhooks", Data: webhooksView{Webhooks: rows, Pager: pg}})
}

// webhookRows adds each webhook's triggers and health.
func (h *Handler) webhookRows(r *http.Request, hooks []herald.Webhook) ([]webhookRow, error) {
	ids := make([]int64, len(hooks))
	for i, hk := range hooks {
		ids[i] = hk.ID
	}
	health, err := h.dir.WebhookHealths(r.Context(), actor(r), ids)
	if err != nil {
		return nil, err
	}
	rows := make([]webhookRow, len(hooks))
	for i, hk := range hooks {
		rows[i] = webhookRow{Webhook: hk, Triggers: triggerNames(hk), Health: health[hk.ID], State: health[hk.ID].State(hk.Enabled)}
	}
	return rows, nil
}

// webhookFormView is what the add and edit forms show. The token itself is
// never in it: the form is write-only for secrets.
type webhookFormView struct {
	ID          int64
	HasToken    bool
	Triggers    []struct{ Name, Label string }
	AddedEvents []struct{ Name, Label string }
}

func formView(id int64) webhookFormView {
	v := webhookFormView{ID: id}
	for _, et := range herald.TriggerTypes() {
		v.Triggers = append(v.Triggers, struct{ Name, Label string }{et.Trigger, et.Label})
	}
	for _, et := range herald.SubscriptionTypes() {
		v.AddedEvents = append(v.AddedEvents, struct{ Name, Label string }{et.Subscription, et.Label})
	}
	return v
}

func (h *Handler) newWebhookPage(w http.ResponseWriter, r *http.Request) error {
	form := url.Values{"method": {"GET"}, "enabled": {"on"}}
	return h.render(w, r, http.StatusOK, "webhook_form", page{Title: "Add webhook · Webhooks", Form: form, Data: formView(0)})
}

func webhookInput(f url.Values) directory.WebhookInput {
	enabled := f.Get("enabled") != ""
	in := directory.WebhookInput{
		URL: f.Get("url"), Description: f.Get("description"), Token: f.Get("token"), Enabled: &enabled,
		Method: f.Get("method"), Events: f["events"], Format: f.Get("format"),
		IgnoreActors: listField(f.Get("ignore_actors")), OnlyGroups: listField(f.Get("only_groups")),
	}
	for _, et := range herald.TriggerTypes() {
		*et.Flag(&in.Triggers) = f.Get(et.Trigger) != ""
	}
	return in
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := h.dir.CreateWebhook(r.Context(), actor(r), webhookInput(r.PostForm))
	return h.afterForm(w, r, err, func(err error) error {
		return h.renderForm(w, r, "webhook_form", page{Title: "Add webhook · Webhooks", Form: withoutToken(r.PostForm), Data: formView(0)}, err, webhookFields)
	}, fmt.Sprintf("/webhooks/%d", hook.ID), "Webhook added.")
}

// withoutToken returns the form to show again without the token typed (it
// is never sent back to the browser), noting that one was typed.
func withoutToken(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = v
	}
	if out.Get("token") != "" {
		out.Set("token_typed", "on")
	}
	out.Del("token")
	return out
}

// listField splits a form field of names separated by spaces or commas.
func listField(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// webhookForm is the edit form's values for hk: everything but its secrets.
func webhookForm(hk herald.Webhook) url.Values {
	f := url.Values{"url": {hk.URL}, "description": {hk.Description}, "method": {hk.Method}, "events": hk.Events,
		"format": {hk.Format}, "ignore_actors": {strings.Join(hk.IgnoreActors, " ")}, "only_groups": {strings.Join(hk.OnlyGroups, " ")}}
	on := map[string]bool{"enabled": hk.Enabled, "token_unreadable": hk.TokenUnreadable} // token_unreadable: shown as a note, not a field
	for _, et := range herald.TriggerTypes() {
		on[et.Trigger] = *et.Flag(&hk.Triggers)
	}
	for name, on := range on {
		if on {
			f.Set(name, "on")
		}
	}
	return f
}

func (h *Handler) editWebhookPage(w http.ResponseWriter, r *http.Request, id int64) error {
	hook, err := h.dir.GetWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	v := formView(id)
	v.HasToken = hook.Token != ""
	return h.render(w, r, http.StatusOK, "webhook_form", page{Title: "Edit · " + hook.Description + " · Webhooks", Form: webhookForm(hook), Data: v})
}

// saveWebhook replaces the webhook's settings. An empty token field keeps
// the current token (the form never shows it); "Remove the token" clears it.
func (h *Handler) saveWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	hook, err := h.dir.GetWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	in := webhookInput(r.PostForm)
	if in.Token == "" && r.PostForm.Get("clear_token") == "" {
		in.Token = hook.Token
	}
	_, err = h.dir.UpdateWebhook(r.Context(), actor(r), id, in)
	return h.afterForm(w, r, err, func(err error) error {
		v := formView(id)
		v.HasToken = hook.Token != ""
		return h.renderForm(w, r, "webhook_form", page{Title: "Edit · " + hook.Description + " · Webhooks", Form: withoutToken(r.PostForm), Data: v}, err, webhookFields)
	}, fmt.Sprintf("/webhooks/%d", id), "Webhook saved.")
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	a, err := h.dir.TestWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	back := fmt.Sprintf("/webhooks/%d", id)
	if r.PostFormValue("back") == "list" {
		back = "/webhooks"
	}
	switch {
	case herald.Succeeded(a.StatusCode):
		return h.redirect(w, r, back, fmt.Sprintf("Test sent: the receiver answered %d in %d ms. It is in the delivery log.", a.StatusCode, a.DurationMS))
	case a.StatusCode != 0:
		return h.redirectFailed(w, r, back, fmt.Sprintf("Test failed: the receiver answered %d %s. It is in the delivery log.", a.StatusCode, http.StatusText(a.StatusCode)))
	}
	return h.redirectFailed(w, r, back, "Test failed: "+a.Error+". It is in the delivery log.")
}

// confirmRotate asks before a new signing secret replaces the current
// one, saying how long the current one goes on signing beside it.
func (h *Handler) confirmRotate(w http.ResponseWriter, r *http.Request, id int64) error {
	hook, err := h.dir.GetWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	q := "Make a new signing secret for the webhook to " + hook.URL + "? The current one goes on signing beside it for 24 hours, so the receiver has that long to switch."
	if until := hook.PreviousSecretUntil; hook.PreviousSecret != "" && time.Until(until) > 0 {
		q += fmt.Sprintf(" The secret before it, which still signs until %s (%s from now), stops signing at once.",
			until.UTC().Format("2006-01-02 15:04 UTC"), time.Until(until).Round(time.Minute))
	}
	return h.render(w, r, http.StatusOK, "confirm", page{Title: "Rotate secret · " + hook.Description + " · Webhooks", Data: confirmView{
		Heading: "Rotate signing secret", Question: q,
		Action: fmt.Sprintf("/webhooks/%d/rotate", id), Button: "Rotate signing secret", Back: fmt.Sprintf("/webhooks/%d", id),
	}})
}

// rotateSecret makes a new signing secret and answers with the webhook
// page showing it, this once: no GET shows a signing secret (the admin API
// reads it, GET /api/v1/webhook/{id}), so a page's HTML holds one only
// here, like a new token's.
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request, id int64) error {
	hook, err := h.dir.RotateSecret(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return h.showWebhookPage(w, r, id, nil, nil, hook.SigningSecret)
}

// webhookView is what the webhook page shows.
type webhookView struct {
	Hook     herald.Webhook
	Row      webhookRow // with its health
	Triggers []string
	DeliveryLog
	// NewSecret is the signing secret just made by a rotation, shown once.
	NewSecret string
}

// DeliveryLog is one page of a webhook's (or SCIM target's) delivery log,
// as the delivery-log template shows it.
type DeliveryLog struct {
	Base       string // the page it is on, /webhooks/{id} or /scim/{id}
	Deliveries []herald.Delivery
	Status     string
	Statuses   []string
	Event      string
	Events     []string
	Q          string // the search in subjects and event ids
	Total      int    // deliveries that pass the filter
	Older      string // the link to the next page of older ones, "" at the end
	Newest     string // the link back to the newest ones, "" when shown
}

// deliveryLog reads the page of the delivery log r asks for (its status,
// event, q and before), with find (the directory's FindDeliveries or
// FindSCIMDeliveries), for the page at base.
func deliveryLog(r *http.Request, base string, find func(store.DeliveryFilter) ([]herald.Delivery, int, error)) (DeliveryLog, error) {
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	st, event, search := q.Get("status"), q.Get("event"), strings.TrimSpace(q.Get("q"))
	ds, total, err := find(store.DeliveryFilter{Status: st, Event: event, Q: search, Before: before, Limit: deliveriesPerPage})
	if err != nil {
		return DeliveryLog{}, err
	}
	v := DeliveryLog{Base: base, Deliveries: ds, Status: st,
		Statuses: []string{herald.DeliveryPending, herald.DeliveryRetrying, herald.DeliverySucceeded, herald.DeliveryFailed},
		Event:    event, Events: directory.DeliveryEvents(), Q: search, Total: total}
	link := func(before int64) string {
		v := url.Values{}
		for k, s := range map[string]string{"status": st, "event": event, "q": search} {
			if s != "" {
				v.Set(k, s)
			}
		}
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if len(v) == 0 {
			return base + "#deliveries"
		}
		return base + "?" + v.Encode() + "#deliveries"
	}
	if len(ds) == deliveriesPerPage {
		v.Older = link(ds[len(ds)-1].ID)
	}
	if before > 0 {
		v.Newest = link(0)
	}
	return v, nil
}

const deliveriesPerPage = 50

func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, id int64) error {
	return h.showWebhook(w, r, id, nil, nil)
}

// showWebhook renders the webhook page; form and formErr, when given, keep
// what the user typed into the replay form and say what is wrong.
func (h *Handler) showWebhook(w http.ResponseWriter, r *http.Request, id int64, form url.Values, formErr error) error {
	return h.showWebhookPage(w, r, id, form, formErr, "")
}

// showWebhookPage is showWebhook that also shows newSecret, a signing
// secret just made, when it is not "".
func (h *Handler) showWebhookPage(w http.ResponseWriter, r *http.Request, id int64, form url.Values, formErr error, newSecret string) error {
	a := actor(r)
	hook, err := h.dir.GetWebhook(r.Context(), a, id)
	if err != nil {
		return err
	}
	log, err := deliveryLog(r, fmt.Sprintf("/webhooks/%d", id), func(f store.DeliveryFilter) ([]herald.Delivery, int, error) {
		return h.dir.FindDeliveries(r.Context(), a, id, f)
	})
	if err != nil {
		return err
	}
	rows, err := h.webhookRows(r, []herald.Webhook{hook})
	if err != nil {
		return err
	}
	v := webhookView{Hook: hook, Row: rows[0], Triggers: triggerNames(hook), DeliveryLog: log, NewSecret: newSecret}
	if form == nil {
		form = url.Values{}
	}
	p := page{Title: hook.Description + " · Webhooks", Form: form, Data: v}
	if newSecret != "" {
		p.Notice = "New signing secret made; the old one also signs for 24 hours."
	}
	return h.renderForm(w, r, "webhook", p, formErr, webhookFields)
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request, id int64) error {
	since, err := parseSince(r.PostForm.Get("since"))
	if err != nil {
		return h.showWebhook(w, r, id, r.PostForm, err)
	}
	n, err := h.dir.Replay(r.Context(), actor(r), id, since)
	return h.afterForm(w, r, err, func(err error) error {
		return h.showWebhook(w, r, id, r.PostForm, err)
	}, fmt.Sprintf("/webhooks/%d", id), fmt.Sprintf("Replay queued %d events.", n))
}

// parseSince reads a browser's datetime-local value (taken as UTC) or an
// RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, herald.Invalid("since", "give a date and time like 2026-01-02T15:04 (UTC)")
}
