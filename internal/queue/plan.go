package queue

import "github.com/heraldhq/herald"

// This file is the policy of a claim, the same on every database: which
// webhooks it serves, in what order, and how many deliveries of each at
// most. The drivers then take those deliveries from handoffs or the
// database.

// share is a webhook a claim serves, and how many of its deliveries at
// most: its room under the per-webhook cap. query is false for a webhook
// that has requests in flight and less room than MinRoom: it gets only
// what costs no query (handoffs on SQLite).
type share struct {
	hook  *herald.Webhook // in the claim's list: read only
	room  int
	query bool
}

// plan goes through the webhooks starting at the one turn points to, so
// that a different one comes first at each claim and a small Limit is
// shared (fairness). A paused webhook, or one at its cap, is left out: it
// costs nothing. The Limit itself is the driver's to apply, in this order.
func plan(req Request, hooks []herald.Webhook, turn int) []share {
	out := make([]share, 0, len(hooks))
	for i := range hooks {
		hook := &hooks[(i+turn)%len(hooks)]
		if req.Paused[hook.ID] {
			continue
		}
		inFlight := req.InFlight[hook.ID]
		room := req.PerWebhook - inFlight
		if room <= 0 {
			continue
		}
		out = append(out, share{hook: hook, room: room, query: inFlight == 0 || room >= req.MinRoom})
	}
	return out
}
