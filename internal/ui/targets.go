package ui

import (
	"context"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// targetKind is what the pages shared by both kinds of delivery target
// (webhooks and SCIM targets) need to know of a kind: its words and its
// directory methods. Turning a target on or off, deleting it, and showing
// and redelivering one delivery of its log are written once, below.
type targetKind struct {
	base      string // the list's path: "/webhooks"
	noun      string // in a sentence: "webhook", "SCIM target"
	nounTitle string // at its start: "Webhook", "SCIM target"
	plural    string // the last part of a page's title: "Webhooks"
	enabled   string // the notice after enabling one
	disabled  string // the notice after disabling one
	// describe names target id for titles and says what deleting it does.
	describe   func(ctx context.Context, a directory.Actor, id int64) (name, deleteQuestion string, err error)
	setEnabled func(ctx context.Context, a directory.Actor, id int64, enabled bool) error
	remove     func(ctx context.Context, a directory.Actor, id int64) error
	delivery   func(ctx context.Context, a directory.Actor, id, deliveryID int64) (directory.DeliveryDetail, error)
	redeliver  func(ctx context.Context, a directory.Actor, id, deliveryID int64) error
}

// onlyErr keeps only the error of a directory method that also returns
// what it changed: the pages redirect instead of showing that.
func onlyErr[T any](f func(context.Context, directory.Actor, int64, bool) (T, error)) func(context.Context, directory.Actor, int64, bool) error {
	return func(ctx context.Context, a directory.Actor, id int64, enabled bool) error {
		_, err := f(ctx, a, id, enabled)
		return err
	}
}

func (k targetKind) page(id int64) string { return fmt.Sprintf("%s/%d", k.base, id) }

// setTargetEnabled turns a target on or off and goes back to the list,
// or to the target's page when the form came from there.
func (h *Handler) setTargetEnabled(k targetKind) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		enabled := r.PostForm.Get("enabled") == "true"
		if err := k.setEnabled(r.Context(), actor(r), id, enabled); err != nil {
			return err
		}
		notice := k.disabled
		if enabled {
			notice = k.enabled
		}
		back := k.base
		if r.PostFormValue("back") == "page" {
			back = k.page(id)
		}
		return h.redirect(w, r, back, notice)
	})
}

// confirmDeleteTarget asks before deleting a target, saying what goes
// with it.
func (h *Handler) confirmDeleteTarget(k targetKind) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		name, question, err := k.describe(r.Context(), actor(r), id)
		if err != nil {
			return err
		}
		return h.render(w, r, http.StatusOK, "confirm", page{Title: "Delete · " + name + " · " + k.plural, Data: confirmView{
			Heading: "Delete " + k.noun, Question: question,
			Action: k.page(id) + "/delete", Button: "Delete " + k.noun, Back: k.page(id),
		}})
	})
}

func (h *Handler) deleteTarget(k targetKind) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		if err := k.remove(r.Context(), actor(r), id); err != nil {
			return err
		}
		return h.redirect(w, r, k.base, k.nounTitle+" deleted.")
	})
}

// deliveryView is what the delivery page shows: Base is the page of its
// target, Kind and Name say which target that is.
type deliveryView struct {
	TargetID int64
	Name     string
	Delivery directory.DeliveryDetail
	Base     string
	Kind     string
}

// targetDeliveryPage shows one delivery of a target's log, {did}.
func (h *Handler) targetDeliveryPage(k targetKind) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		did, err := web.PathID(r, "did")
		if err != nil {
			return err
		}
		a := actor(r)
		name, _, err := k.describe(r.Context(), a, id)
		if err != nil {
			return err
		}
		d, err := k.delivery(r.Context(), a, id, did)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("Delivery %d · %s · %s", d.ID, name, k.plural)
		return h.render(w, r, http.StatusOK, "delivery", page{Title: title, Data: deliveryView{TargetID: id, Name: name, Delivery: d,
			Base: k.page(id), Kind: k.nounTitle}})
	})
}

// redeliverTarget queues delivery {did} of a target again and shows it.
func (h *Handler) redeliverTarget(k targetKind) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		did, err := web.PathID(r, "did")
		if err != nil {
			return err
		}
		if err := k.redeliver(r.Context(), actor(r), id, did); err != nil {
			return err
		}
		return h.redirect(w, r, fmt.Sprintf("%s/deliveries/%d", k.page(id), did), "Queued for redelivery.")
	})
}
