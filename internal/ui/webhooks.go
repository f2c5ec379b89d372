package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// webhookRoutes are for admins only, like webhooks in the API.
func (h *Handler) webhookRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /webhooks", Access: web.Admin, Handle: h.webhooks},
		{Pattern: "GET /webhooks/new", Access: web.Admin, Handle: h.newWebhookPage},
		{Pattern: "POST /webhooks/new", Access: web.Admin, Handle: h.createWebhook},
		{Pattern: "GET /webhooks/{id}", Access: web.Admin, Handle: web.WithID("id", h.webhookPage)},
		{Pattern: "GET /webhooks/{id}/edit", Access: web.Admin, Handle: web.WithID("id", h.editWebhookPage)},
		{Pattern: "POST /webhooks/{id}/edit", Access: web.Admin, Handle: web.WithID("id", h.saveWebhook)},
		{Pattern: "POST /webhooks/{id}/enabled", Access: web.Admin, Handle: web.WithID("id", h.setWebhookEnabled)},
		{Pattern: "GET /webhooks/{id}/delete", Access: web.Admin, Handle: web.WithID("id", h.confirmDeleteWebhook)},
		{Pattern: "POST /webhooks/{id}/delete", Access: web.Admin, Handle: web.WithID("id", h.deleteWebhook)},
		{Pattern: "POST /webhooks/{id}/test", Access: web.Admin, Handle: web.WithID("id", h.testWebhook)},
		{Pattern: "POST /webhooks/{id}/rotate", Access: web.Admin, Handle: web.WithID("id", h.rotateSecret)},
		{Pattern: "POST /webhooks/{id}/replay", Access: web.Admin, Handle: web.WithID("id", h.replay)},
		{Pattern: "GET /webhooks/{id}/deliveries/{did}", Access: web.Admin, Handle: web.WithID("id", h.deliveryPage)},
		{Pattern: "POST /webhooks/{id}/deliveries/{did}/redeliver", Access: web.Admin, Handle: web.WithID("id", h.redeliver)},
	}
}

var webhookFields = []string{"url", "description", "token", "method", "events", "format", "ignore_actors", "only_groups", "since"}

// webhookRow is a webhook as the list shows it.
type webhookRow struct {
	herald.Webhook
	Triggers []string
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

func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := h.dir.ListWebhooks(r.Context(), actor(r))
	if err != nil {
		return err
	}
	rows := make([]webhookRow, len(hooks))
	for i, hk := range hooks {
		rows[i] = webhookRow{Webhook: hk, Triggers: triggerNames(hk)}
	}
	return h.render(w, r, http.StatusOK, "webhooks", page{Title: "Webhooks", Data: rows})
}

// webhookFormView is what the add and edit forms show.
type webhookFormView struct {
	ID          int64
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
	return h.render(w, r, http.StatusOK, "webhook_form", page{Title: "Webhooks", Form: form, Data: formView(0)})
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
		return h.formError(w, r, "webhook_form", page{Title: "Webhooks", Form: r.PostForm, Data: formView(0)}, err, webhookFields)
	}, fmt.Sprintf("/webhooks/%d", hook.ID), "Webhook added.")
}

// listField splits a form field of names separated by spaces or commas.
func listField(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

func webhookForm(hk herald.Webhook) url.Values {
	f := url.Values{"url": {hk.URL}, "description": {hk.Description}, "token": {hk.Token}, "method": {hk.Method}, "events": hk.Events,
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
	return h.render(w, r, http.StatusOK, "webhook_form", page{Title: "Webhooks", Form: webhookForm(hook), Data: formView(id)})
}

func (h *Handler) saveWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	_, err := h.dir.UpdateWebhook(r.Context(), actor(r), id, webhookInput(r.PostForm))
	return h.afterForm(w, r, err, func(err error) error {
		return h.formError(w, r, "webhook_form", page{Title: "Webhooks", Form: r.PostForm, Data: formView(id)}, err, webhookFields)
	}, fmt.Sprintf("/webhooks/%d", id), "Webhook saved.")
}

func (h *Handler) setWebhookEnabled(w http.ResponseWriter, r *http.Request, id int64) error {
	enabled := r.PostForm.Get("enabled") == "true"
	if _, err := h.dir.SetWebhookEnabled(r.Context(), actor(r), id, enabled); err != nil {
		return err
	}
	notice := "Webhook disabled: it finishes what it was given and gets nothing new."
	if enabled {
		notice = "Webhook enabled."
	}
	return h.redirect(w, r, "/webhooks", notice)
}

func (h *Handler) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	hook, err := h.dir.GetWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "confirm", page{Title: "Delete webhook", Data: confirmView{
		Question: fmt.Sprintf("Delete the webhook to %s (%s)? Deliveries not yet sent are dropped, with its delivery log.", hook.URL, hook.Description),
		Action:   fmt.Sprintf("/webhooks/%d/delete", id), Button: "Delete webhook", Back: "/webhooks",
	}})
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	if err := h.dir.DeleteWebhook(r.Context(), actor(r), id); err != nil {
		return err
	}
	return h.redirect(w, r, "/webhooks", "Webhook deleted.")
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, id int64) error {
	a, err := h.dir.TestWebhook(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	var notice string
	switch {
	case herald.Succeeded(a.StatusCode):
		notice = fmt.Sprintf("Test sent: the receiver answered %d in %d ms.", a.StatusCode, a.DurationMS)
	case a.StatusCode != 0:
		notice = fmt.Sprintf("Test failed: the receiver answered %d %s.", a.StatusCode, http.StatusText(a.StatusCode))
	default:
		notice = "Test failed: " + a.Error
	}
	back := r.PostFormValue("back")
	if back != "list" {
		return h.redirect(w, r, fmt.Sprintf("/webhooks/%d", id), notice)
	}
	return h.redirect(w, r, "/webhooks", notice)
}

func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request, id int64) error {
	if _, err := h.dir.RotateSecret(r.Context(), actor(r), id); err != nil {
		return err
	}
	return h.redirect(w, r, fmt.Sprintf("/webhooks/%d?show_secret=1", id), "New signing secret made; the old one also signs for 24 hours.")
}

// webhookView is what the webhook page shows.
type webhookView struct {
	Hook       herald.Webhook
	Triggers   []string
	Deliveries []herald.Delivery
	Status     string
	Statuses   []string
	ShowSecret bool
	Older      int64
}

const deliveriesPerPage = 50

func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, id int64) error {
	return h.showWebhook(w, r, id, nil, nil)
}

// showWebhook renders the webhook page; form and formErr, when given, keep
// what the user typed into the replay form and say what is wrong.
func (h *Handler) showWebhook(w http.ResponseWriter, r *http.Request, id int64, form url.Values, formErr error) error {
	a := actor(r)
	hook, err := h.dir.GetWebhook(r.Context(), a, id)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	st := q.Get("status")
	ds, err := h.dir.ListDeliveries(r.Context(), a, id, st, before, deliveriesPerPage)
	if err != nil {
		return err
	}
	v := webhookView{Hook: hook, Triggers: triggerNames(hook), Deliveries: ds, Status: st, ShowSecret: q.Get("show_secret") == "1",
		Statuses: []string{herald.DeliveryPending, herald.DeliveryRetrying, herald.DeliverySucceeded, herald.DeliveryFailed}}
	if len(ds) == deliveriesPerPage {
		v.Older = ds[len(ds)-1].ID
	}
	if form == nil {
		form = url.Values{}
	}
	p := page{Title: "Webhooks", Form: form, Data: v}
	if formErr != nil {
		return h.formError(w, r, "webhook", p, formErr, webhookFields)
	}
	return h.render(w, r, http.StatusOK, "webhook", p)
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

// deliveryView is what the delivery page shows.
type deliveryView struct {
	Hook     herald.Webhook
	Delivery directory.DeliveryDetail
}

func (h *Handler) deliveryPage(w http.ResponseWriter, r *http.Request, id int64) error {
	did, err := web.PathID(r, "did")
	if err != nil {
		return err
	}
	a := actor(r)
	hook, err := h.dir.GetWebhook(r.Context(), a, id)
	if err != nil {
		return err
	}
	d, err := h.dir.GetDelivery(r.Context(), a, id, did)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "delivery", page{Title: "Webhooks", Data: deliveryView{Hook: hook, Delivery: d}})
}

func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request, id int64) error {
	did, err := web.PathID(r, "did")
	if err != nil {
		return err
	}
	if err := h.dir.Redeliver(r.Context(), actor(r), id, did); err != nil {
		return err
	}
	return h.redirect(w, r, fmt.Sprintf("/webhooks/%d/deliveries/%d", id, did), "Queued for redelivery.")
}
