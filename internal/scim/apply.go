package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Apply makes the calls that make target t agree with one change, and
// judges them (Result.Verdict): Done when every call needed succeeded;
// Retry on a 5xx, 429 or transport error (and on a database error); Gone
// on 410; Failed on another 4xx or when the egress guard refused. The ids
// the provider gives are kept in s as they come, so a retry goes on where
// the last attempt stopped.
//
// Users: in scope (t.OnlyGroups) and not deleted, a mapped user is PUT
// (404: its id is forgotten and it is created); an unmapped one is
// adopted if the provider has its userName (filter), else POSTed (409:
// adopted by filter). A new or adopted user is added to its mapped groups
// (PATCH) when t.SyncGroups. Deleted or out of scope, it is deprovisioned
// per t.Deprovision (anything but "delete" deactivates, the default and
// the step that loses nothing). Groups are provisioned only when
// t.SyncGroups.
func Apply(ctx context.Context, d Doer, s Store, t Target, c Change) Result {
	r := &run{ctx: ctx, d: d, s: s, t: t}
	kind, name, _ := strings.Cut(c.Subject, ":")
	switch kind {
	case "user":
		r.applyUser(name, c)
	case "group":
		if t.SyncGroups {
			r.applyGroup(name, c)
		}
	default:
		r.end(Failed, "not a user or group change: subject "+c.Subject)
	}
	return r.result()
}

func (r *run) applyUser(name string, c Change) {
	var data, prev userBody
	if err := json.Unmarshal(c.Data, &data); err != nil {
		r.end(Failed, "the change's data is not a user: "+err.Error())
		return
	}
	hasPrev := len(c.Previous) > 0 && json.Unmarshal(c.Previous, &prev) == nil && prev.Username != ""
	if name == "" {
		name = data.Username
	}
	switch {
	case c.Type == "user_deleted" || c.Type == ChangeRemove:
		// The body to deactivate with is the user as it was.
		if hasPrev {
			r.deprovisionUser(name, &prev)
		} else {
			r.deprovisionUser(name, nil)
		}
	case !inScope(r.t.OnlyGroups, data.Groups):
		r.deprovisionUser(name, &data)
	default:
		data.Username = name
		// Only what SCIM does not carry changed (keys, the admin flag,
		// groups, which group changes carry): a mapped user needs no call.
		same := c.Type == "user_modified" && hasPrev && inScope(r.t.OnlyGroups, prev.Groups) && sameMapped(prev, data)
		var joined []string
		if hasPrev {
			joined = added(prev.Groups, data.Groups)
		}
		r.provisionUser(data, same, joined)
	}
}

// added returns the groups in after that are not in before.
func added(before, after []string) []string {
	var out []string
	for _, g := range after {
		if !slices.Contains(before, g) {
			out = append(out, g)
		}
	}
	return out
}

// sameMapped reports whether two states of a user look the same at a
// target.
func sameMapped(a, b userBody) bool {
	return a.Username == b.Username && a.FirstName == b.FirstName && a.LastName == b.LastName &&
		a.Email == b.Email && a.Phone == b.Phone
}

// userID is Herald's id of the user (the externalId), 0 when it is gone.
func (r *run) userID(name string) (int64, bool) {
	id, _, err := r.s.UserID(r.ctx, name)
	if err != nil {
		r.storeFailed(err)
		return 0, false
	}
	return id, true
}

// provisionUser creates or updates the user b at the target; same: b
// looks as it did, so a mapped user is left as it is. joined: the groups
// the change added the user to.
func (r *run) provisionUser(b userBody, same bool, joined []string) {
	id, mapped, ext, err := r.s.UserIDs(r.ctx, r.t.ID, b.Username)
	if err != nil {
		r.storeFailed(err)
		return
	}
	if mapped && same {
		r.entries = append(r.entries, "nothing the target is sent changed: no call for the user")
		// The group's own change may have reached the target while this
		// user's creation was on its way (neither saw the other's id), so
		// the user joins the groups it was added to; adding a member who
		// is one already changes nothing.
		if r.t.SyncGroups && len(joined) > 0 {
			r.joinGroups(userBody{Groups: joined}, id)
		}
		return
	}
	res := userResource(b, ext, true)
	if mapped {
		path := resourcePath("/Users", id)
		a := r.call(http.MethodPut, path, res)
		switch {
		case a.succeeded():
			return
		case a.ok && a.Status == http.StatusNotFound:
			// The provider lost it: create it again.
			if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindUser, b.Username); err != nil {
				r.storeFailed(err)
				return
			}
		default:
			r.reject(http.MethodPut, path, a)
			return
		}
	}
	// Not mapped: adopt an account of that userName, or create one.
	id, found := r.find("/Users", "userName", b.Username)
	if r.ended {
		return
	}
	if found {
		if a := r.call(http.MethodPut, resourcePath("/Users", id), res); !a.succeeded() {
			r.reject(http.MethodPut, resourcePath("/Users", id), a)
			return
		}
	} else {
		a := r.call(http.MethodPost, "/Users", res)
		switch {
		case a.succeeded():
			if id = idOf(a.Body); id == "" {
				r.end(Failed, "POST /Users: the target's answer has no id")
				return
			}
		case a.ok && a.Status == http.StatusConflict:
			// Someone made it meanwhile, or the filter missed it.
			if id, found = r.find("/Users", "userName", b.Username); r.ended {
				return
			}
			if !found {
				r.reject(http.MethodPost, "/Users", a)
				return
			}
			if a := r.call(http.MethodPut, resourcePath("/Users", id), res); !a.succeeded() {
				r.reject(http.MethodPut, resourcePath("/Users", id), a)
				return
			}
		default:
			r.reject(http.MethodPost, "/Users", a)
			return
		}
	}
	// The id is stored first, then the user joins its mapped groups:
	// group events may have reached the target before the user existed
	// there, and a group change sent meanwhile reads the ids after its
	// call and sends its members again (provisionGroup), so one of the
	// two sees the other. A failed join forgets the id again, so the
	// retry adopts the user and joins again. Without groups, storing the
	// id is the last step.
	if !r.t.SyncGroups {
		r.d.CallsOver()
	}
	if r.setID(KindUser, b.Username, id); r.ended || !r.t.SyncGroups {
		return
	}
	if !r.joinGroups(b, id) {
		if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindUser, b.Username); err != nil {
			r.err += "; database: " + err.Error()
		}
	}
}

// joinGroups adds user id to each of b's groups mapped at the target. A
// group the provider lost (404) is left to its next change.
func (r *run) joinGroups(b userBody, id string) bool {
	for _, g := range b.Groups {
		if len(r.t.OnlyGroups) > 0 && !inScope(r.t.OnlyGroups, []string{g}) {
			continue
		}
		gid, ok, err := r.s.RemoteID(r.ctx, r.t.ID, KindGroup, g)
		if err != nil {
			r.storeFailed(err)
			return false
		}
		if !ok {
			continue
		}
		patch := map[string]any{"schemas": []string{SchemaPatchOp}, "Operations": []any{
			map[string]any{"op": "add", "path": "members", "value": []Member{{Value: id}}}}}
		path := resourcePath("/Groups", gid)
		if a := r.call(http.MethodPatch, path, patch); !a.succeeded() && !(a.ok && a.Status == http.StatusNotFound) {
			r.reject(http.MethodPatch, path, a)
			return false
		}
	}
	return true
}

// deprovisionUser deletes or deactivates the user named name at the
// target; b is its body to deactivate with (nil: the provider's copy is
// read). An unmapped user is looked for by userName once.
func (r *run) deprovisionUser(name string, b *userBody) {
	id, mapped, err := r.s.RemoteID(r.ctx, r.t.ID, KindUser, name)
	if err != nil {
		r.storeFailed(err)
		return
	}
	if !mapped {
		if id, mapped = r.find("/Users", "userName", name); !mapped {
			return // nothing there: done (or the lookup ended the run)
		}
	}
	path := resourcePath("/Users", id)
	if r.t.Deprovision == DeprovisionDelete {
		a := r.call(http.MethodDelete, path, nil)
		if !a.succeeded() && !(a.ok && a.Status == http.StatusNotFound) {
			r.reject(http.MethodDelete, path, a)
			return
		}
		r.d.CallsOver()
		if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindUser, name); err != nil {
			r.storeFailed(err)
		}
		return
	}
	var body any
	if b != nil {
		b.Username = name
		ext, ok := r.userID(name)
		if !ok {
			return
		}
		body = userResource(*b, ext, false)
	} else {
		a := r.call(http.MethodGet, path, nil)
		if a.ok && a.Status == http.StatusNotFound {
			r.forget(KindUser, name)
			return
		}
		if !a.succeeded() {
			r.reject(http.MethodGet, path, a)
			return
		}
		var m map[string]any
		if json.Unmarshal(a.Body, &m) != nil {
			r.end(Failed, "GET "+path+": the answer is not a resource")
			return
		}
		// The provider's own copy, inactive; what it sets itself goes.
		for _, k := range []string{"id", "meta", "groups"} {
			delete(m, k)
		}
		m["active"] = false
		body = m
	}
	a := r.call(http.MethodPut, path, body)
	r.d.CallsOver()
	switch {
	case a.succeeded():
		// Kept, so a user back in scope is reactivated, not duplicated.
		if err := r.s.SetRemoteID(r.ctx, r.t.ID, KindUser, name, id); err != nil {
			r.storeFailed(err)
		}
	case a.ok && a.Status == http.StatusNotFound:
		r.forget(KindUser, name)
	default:
		r.reject(http.MethodPut, path, a)
	}
}

func (r *run) forget(kind, name string) {
	if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, kind, name); err != nil {
		r.storeFailed(err)
	}
}

// find looks a resource up by `attr eq "value"` and returns the id of the
// one whose attr equals value (without regard to case: userName is
// case-insensitive). A failed lookup ends the run.
func (r *run) find(endpoint, attr, value string) (string, bool) {
	path := filterPath(endpoint, filterEq(attr, value))
	a := r.call(http.MethodGet, path, nil)
	if !a.succeeded() {
		r.reject(http.MethodGet, path, a)
		return "", false
	}
	var list struct {
		Resources []map[string]any `json:"Resources"`
	}
	if err := json.Unmarshal(a.Body, &list); err != nil {
		r.end(Failed, "GET "+path+": the answer is not a list response: "+err.Error())
		return "", false
	}
	for _, res := range list.Resources {
		v, _ := res[attr].(string)
		id, _ := res["id"].(string)
		if id != "" && strings.EqualFold(v, value) {
			return id, true
		}
	}
	return "", false
}

// idOf returns the id of a resource in an answer's body.
func idOf(body []byte) string {
	var res struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &res)
	return res.ID
}
