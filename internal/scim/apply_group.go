package scim

import (
	"encoding/json"
	"net/http"
	"slices"
)

// applyGroup makes the target's group agree with a group change (the
// target has SyncGroups). Out of scope (t.OnlyGroups) or deleted, a
// mapped group is deleted; an unmapped one is left alone, as the
// provider's own groups are.
func (r *run) applyGroup(name string, c Change) {
	var data, prev groupBody
	if err := json.Unmarshal(c.Data, &data); err != nil {
		r.end(Failed, "the change's data is not a group: "+err.Error())
		return
	}
	if name == "" {
		name = data.Name
	}
	if len(c.Previous) > 0 && json.Unmarshal(c.Previous, &prev) == nil && prev.Name != "" && prev.Name != name &&
		c.Type != "group_deleted" && c.Type != ChangeRemove {
		// A rename: the provider's group keeps its id under the new name.
		if !r.moveGroup(prev.Name, name) {
			return
		}
	}
	if c.Type == "group_deleted" || c.Type == ChangeRemove || (len(r.t.OnlyGroups) > 0 && !slices.Contains(r.t.OnlyGroups, name)) {
		r.deleteGroup(name)
		return
	}
	// Changes are ordered per subject, and a rename changes the subject:
	// a change of a group renamed or deleted since, applied after the
	// change that renamed or deleted it, would create it again under its
	// old name. The later change speaks for the group.
	exists, err := r.s.GroupExists(r.ctx, name)
	if err != nil {
		r.storeFailed(err)
		return
	}
	if !exists {
		r.entries = append(r.entries, "the group "+name+" is no longer in Herald (renamed or deleted since this change): no call")
		return
	}
	r.provisionGroup(name, data.Members)
}

// moveGroup moves the id stored for group from to to (unless to has one).
func (r *run) moveGroup(from, to string) bool {
	id, ok, err := r.s.RemoteID(r.ctx, r.t.ID, KindGroup, from)
	if err == nil && ok {
		var has bool
		if _, has, err = r.s.RemoteID(r.ctx, r.t.ID, KindGroup, to); err == nil && !has {
			err = r.s.SetRemoteID(r.ctx, r.t.ID, KindGroup, to, id)
		}
		if err == nil {
			err = r.s.DeleteRemoteID(r.ctx, r.t.ID, KindGroup, from)
		}
	}
	if err != nil {
		r.storeFailed(err)
		return false
	}
	return true
}

func (r *run) deleteGroup(name string) {
	id, mapped, err := r.s.RemoteID(r.ctx, r.t.ID, KindGroup, name)
	if err != nil {
		r.storeFailed(err)
		return
	}
	if !mapped {
		return
	}
	path := resourcePath("/Groups", id)
	if a := r.call(http.MethodDelete, path, nil); !a.succeeded() && !(a.ok && a.Status == http.StatusNotFound) {
		r.reject(http.MethodDelete, path, a)
		return
	}
	r.forget(KindGroup, name)
}

// memberIDs returns the target's ids of the members it has, sorted.
func (r *run) memberIDs(members []string) ([]string, bool) {
	var ids []string
	for _, m := range members {
		id, ok, err := r.s.RemoteID(r.ctx, r.t.ID, KindUser, m)
		if err != nil {
			r.storeFailed(err)
			return nil, false
		}
		if ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, true
}

// provisionGroup creates or updates the group with the members Herald has
// mapped at the target (the others join when they are created there).
func (r *run) provisionGroup(name string, members []string) {
	ids, ok := r.memberIDs(members)
	if !ok {
		return
	}
	res := groupResource(name, ids)
	id, mapped, err := r.s.RemoteID(r.ctx, r.t.ID, KindGroup, name)
	if err != nil {
		r.storeFailed(err)
		return
	}
	if mapped {
		path := resourcePath("/Groups", id)
		a := r.call(http.MethodPut, path, res)
		switch {
		case a.succeeded():
			r.resend(name, id, members, ids)
			return
		case a.ok && a.Status == http.StatusNotFound:
			if r.forget(KindGroup, name); r.ended {
				return
			}
		default:
			r.reject(http.MethodPut, path, a)
			return
		}
	}
	id, found := r.find("/Groups", "displayName", name)
	if r.ended {
		return
	}
	if !found {
		a := r.call(http.MethodPost, "/Groups", res)
		switch {
		case a.succeeded():
			if id = idOf(a.Body); id == "" {
				r.end(Failed, "POST /Groups: the target's answer has no id")
				return
			}
			if r.setID(KindGroup, name, id); !r.ended {
				r.resend(name, id, members, ids)
			}
			return
		case a.ok && a.Status == http.StatusConflict:
			if id, found = r.find("/Groups", "displayName", name); r.ended {
				return
			}
			if !found {
				r.reject(http.MethodPost, "/Groups", a)
				return
			}
		default:
			r.reject(http.MethodPost, "/Groups", a)
			return
		}
	}
	// Adopted: store the id, then make it agree.
	if r.setID(KindGroup, name, id); r.ended {
		return
	}
	path := resourcePath("/Groups", id)
	if a := r.call(http.MethodPut, path, res); !a.succeeded() {
		r.reject(http.MethodPut, path, a)
		return
	}
	r.resend(name, id, members, ids)
}

// resend sends the group's members again until the ids Herald has mapped
// read after a PUT are the ones it sent. A member created at the target
// while the group's call was on its way is otherwise lost: its id stored
// after this change read the ids, and its join (PATCH) either read the
// group's id before it was stored or reached the target before the PUT
// that replaced the members. A member stored after the last read joins
// by itself: it reads the group's id after this change stored it, and
// its PATCH leaves after the PUT was answered. Each round that differs
// saw a member appear, so as many rounds as members (and two more,
// should a member be removed meanwhile) are enough; should the ids still
// differ then, the change is tried again later.
func (r *run) resend(name, id string, members, sent []string) {
	for round := 0; ; round++ {
		now, ok := r.memberIDs(members)
		if !ok || slices.Equal(now, sent) {
			return
		}
		if round == len(members)+2 {
			r.end(Retry, "the group's members kept changing while they were sent: tried again later")
			return
		}
		path := resourcePath("/Groups", id)
		if a := r.call(http.MethodPut, path, groupResource(name, now)); !a.succeeded() {
			r.reject(http.MethodPut, path, a)
			return
		}
		sent = now
	}
}

func (r *run) setID(kind, name, id string) {
	if err := r.s.SetRemoteID(r.ctx, r.t.ID, kind, name, id); err != nil {
		r.storeFailed(err)
	}
}
