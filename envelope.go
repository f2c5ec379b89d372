package herald

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"time"
)

// Webhook formats: what a webhook's request bodies look like.
const (
	// FormatDefguard sends the event's payload as it is (the seed's bodies).
	FormatDefguard = "defguard"
	// FormatEnvelope wraps the payload with who did what and what it was
	// before: {"id","type","occurred_at","actor","data","previous","changed"}.
	FormatEnvelope = "envelope"
)

// Formats are the values of a webhook's format.
var Formats = []string{FormatDefguard, FormatEnvelope}

// envelope is the body of the envelope format, keys in this order.
type envelope struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      Actor           `json:"actor"`
	Data       json.RawMessage `json:"data"`
	Previous   json.RawMessage `json:"previous"`
	Changed    []string        `json:"changed"`
}

// Body returns the request body of ev for a webhook of the given format.
// It depends only on what is stored with the event, so every attempt of a
// delivery sends the same bytes.
func (ev Event) Body(format string) []byte {
	if format != FormatEnvelope {
		return ev.Payload
	}
	prev := ev.Previous
	if len(prev) == 0 {
		prev = json.RawMessage("null")
	}
	b, err := json.Marshal(envelope{ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt.UTC(), Actor: ev.Actor,
		Data: ev.Payload, Previous: prev, Changed: Changed(ev.Payload, ev.Previous)})
	if err != nil {
		// Payload and Previous are JSON objects Herald rendered itself.
		panic("herald: rendering an envelope: " + err.Error())
	}
	return b
}

// Changed returns the sorted keys of two JSON objects whose values differ;
// a key on one side only counts as changed, so with no previous object
// (nil or null) it is every key of data.
func Changed(data, previous []byte) []string {
	var after, before map[string]json.RawMessage
	_ = json.Unmarshal(data, &after)
	if len(previous) > 0 {
		_ = json.Unmarshal(previous, &before)
	}
	out := []string{}
	for k, v := range after {
		if old, ok := before[k]; !ok || !jsonEqual(v, old) {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// jsonEqual compares two JSON values Herald rendered: the same value is
// rendered as the same bytes, but compacting first costs little.
func jsonEqual(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// FilterGroups returns the groups an event concerns, for webhooks'
// only_groups: for a user event, the user's groups before and after the
// change (so a user leaving a group is still told); for a group event, the
// group's name before and after (a rename); nil for other events, which
// only_groups does not restrict.
func (ev Event) FilterGroups() []string {
	var byName bool // a group event: its name; a user event: its groups
	switch ev.Type {
	case EventUserCreated, EventUserModified, EventUserDeleted, EventUserKeys:
	case EventGroupCreated, EventGroupModified, EventGroupDeleted:
		byName = true
	default:
		return nil
	}
	out := []string{}
	for _, body := range [][]byte{ev.Payload, ev.Previous} {
		// Only the one field is decoded: the rest of a user's payload
		// (keys, profile) is skipped, not copied out.
		var names []string
		if byName {
			var f struct {
				Name *string `json:"name"`
			}
			if len(body) == 0 || json.Unmarshal(body, &f) != nil || f.Name == nil {
				continue
			}
			names = []string{*f.Name}
		} else {
			var f struct {
				Groups []string `json:"groups"`
			}
			if len(body) == 0 || json.Unmarshal(body, &f) != nil {
				continue
			}
			names = f.Groups
		}
		for _, n := range names {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Passes reports whether ev passes w's filters: its actor is not among
// IgnoreActors and, for user and group events, one of its groups is among
// OnlyGroups, if there are any. (Fan-out decides the same in SQL.)
func (w Webhook) Passes(ev Event) bool {
	for _, key := range ev.Actor.Keys() {
		if slices.Contains(w.IgnoreActors, key) {
			return false
		}
	}
	groups := ev.FilterGroups()
	if groups == nil || len(w.OnlyGroups) == 0 {
		return true
	}
	for _, g := range groups {
		if slices.Contains(w.OnlyGroups, g) {
			return true
		}
	}
	return false
}
