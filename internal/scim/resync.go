package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
)

// How many resources a resync asks for per page: groups fewer, since a
// provider lists each with its members, and the Doer reads a bounded
// answer.
const (
	userPageSize  = 100
	groupPageSize = 10
)

// Resync compares target t with the directory (local) and returns what it
// found and the changes that make t agree: scim_sync for a user or group
// missing at t or differing, scim_remove for one t has under a stored id
// that Herald no longer has or that is out of scope. It reads t's users
// (and groups, with SyncGroups) page by page, and adopts a user or group
// t has under a name Herald provisions by storing its id. Resources t has
// that Herald never mapped and has no user or group of that name are
// Unmanaged and left alone.
//
// A target that cannot be read gives a report with Error and no changes,
// and a nil error; the error is a database's.
func Resync(ctx context.Context, d Doer, s Store, t Target, local Local) (herald.SCIMResync, []Change, error) {
	rep := herald.SCIMResync{At: time.Now().UTC()}
	r := &run{ctx: ctx, d: d, s: s, t: t}
	users, ok := r.list("/Users")
	var groups []remote
	if ok && t.SyncGroups {
		groups, ok = r.list("/Groups")
	}
	if !ok {
		rep.Error = r.err
		return rep, nil, nil
	}
	var changes []Change
	var err error
	if changes, err = r.resyncUsers(&rep.Users, users, local.Users); err != nil {
		rep.Error = "database: " + err.Error()
		return rep, nil, err
	}
	if t.SyncGroups {
		more, err := r.resyncGroups(&rep.Groups, groups, local.Groups)
		if err != nil {
			rep.Error = "database: " + err.Error()
			return rep, nil, err
		}
		changes = append(changes, more...)
	}
	return rep, changes, nil
}

// maxResources bounds how many resources of one endpoint a resync reads:
// a provider that invents new ones on every page must not hold it forever.
const maxResources = 1_000_000

// list reads every resource of endpoint, page by page, until a page is
// empty or totalResults are read. A page that lists nothing new (a
// provider that ignores startIndex answers its first page forever, and
// may claim any totalResults) ends the run, as does going past
// maxResources: what was read is not the whole target, and comparing it
// would queue wrong changes.
func (r *run) list(endpoint string) ([]remote, bool) {
	var all []remote
	seen := map[string]bool{}
	// noID counts the resources listed without an id: they cannot be
	// addressed (PUT, DELETE), so they are left out, as find leaves them,
	// but they count toward totalResults.
	noID := 0
	for start := 1; ; {
		count := userPageSize
		if endpoint == "/Groups" {
			count = groupPageSize
		}
		path := fmt.Sprintf("%s?startIndex=%d&count=%d", endpoint, start, count)
		a := r.call(http.MethodGet, path, nil)
		if !a.succeeded() {
			r.reject(http.MethodGet, path, a)
			return nil, false
		}
		var page struct {
			TotalResults int      `json:"totalResults"`
			Resources    []remote `json:"Resources"`
		}
		if err := json.Unmarshal(a.Body, &page); err != nil {
			r.end(Failed, "GET "+path+": the answer is not a list response: "+err.Error())
			return nil, false
		}
		if len(page.Resources) == 0 {
			return all, true
		}
		fresh := 0
		for _, x := range page.Resources {
			if x.ID == "" {
				noID++
				fresh++
				continue
			}
			if !seen[x.ID] {
				seen[x.ID] = true
				all = append(all, x)
				fresh++
			}
		}
		switch {
		case fresh == 0:
			r.end(Failed, "GET "+path+": the target listed only resources it had listed already (does it ignore startIndex?); the resync stopped")
			return nil, false
		case len(all)+noID > maxResources:
			r.end(Failed, fmt.Sprintf("GET %s: the target lists more than %d resources; the resync stopped", path, maxResources))
			return nil, false
		}
		start += len(page.Resources)
		if len(all)+noID >= page.TotalResults {
			return all, true
		}
	}
}

func (r *run) resyncUsers(n *herald.SCIMResyncCounts, remotes []remote, locals []LocalResource) ([]Change, error) {
	mapped, err := r.s.ListRemoteIDs(r.ctx, r.t.ID, KindUser)
	if err != nil {
		return nil, err
	}
	byID, byName := map[string]remote{}, map[string]remote{}
	for _, x := range remotes {
		byID[x.ID] = x
		byName[strings.ToLower(x.UserName)] = x
	}
	claimed := map[string]bool{} // remote ids Herald manages
	for _, id := range mapped {
		claimed[id] = true
	}
	var changes []Change
	for _, l := range locals {
		var b userBody
		if err := json.Unmarshal(l.Data, &b); err != nil || !inScope(r.t.OnlyGroups, b.Groups) {
			continue
		}
		b.Username = l.Name
		ext, _, err := r.s.UserID(r.ctx, l.Name)
		if err != nil {
			return nil, err
		}
		want := userResource(b, ext, true)
		sync := Change{Type: ChangeSync, Subject: "user:" + l.Name, Data: l.Data}
		id, isMapped := mapped[l.Name]
		x, there := byID[id]
		if !isMapped {
			if x, there = byName[strings.ToLower(l.Name)]; there && !claimed[x.ID] {
				if err := r.s.SetRemoteID(r.ctx, r.t.ID, KindUser, l.Name, x.ID); err != nil {
					return nil, err
				}
				mapped[l.Name], claimed[x.ID] = x.ID, true
				n.Adopted++
			} else {
				there = false
			}
		}
		delete(mapped, l.Name) // what is left is mapped but not provisioned
		switch {
		case !there:
			// An id the target no longer has (it lost its data) is
			// forgotten now: a group sent before the user is created
			// again must not list it as a member.
			if isMapped {
				if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindUser, l.Name); err != nil {
					return nil, err
				}
			}
			n.Created++
			changes = append(changes, sync)
		case sameUser(x, want):
			n.Unchanged++
		default:
			n.Updated++
			changes = append(changes, sync)
		}
	}
	// Mapped, and gone from Herald or out of scope.
	for name, id := range mapped {
		x, there := byID[id]
		switch {
		case !there:
			// Gone from the target too: nothing to deprovision.
			if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindUser, name); err != nil {
				return nil, err
			}
		case r.t.Deprovision != DeprovisionDelete && x.Active != nil && !*x.Active:
			n.Unchanged++
		default:
			n.Deprovisioned++
			changes = append(changes, removeUser(name))
		}
	}
	// The target's own: left alone, even when named as a user Herald has
	// that is out of scope. Herald never provisioned it, and taking away
	// an account it did not make (perhaps the target's own admin) would
	// be a surprise; a change of that user reaches it as Apply decides.
	for _, x := range remotes {
		if !claimed[x.ID] {
			n.Unmanaged++
		}
	}
	return changes, nil
}

func removeUser(name string) Change {
	data, _ := json.Marshal(map[string]string{"username": name})
	return Change{Type: ChangeRemove, Subject: "user:" + name, Data: data}
}

func (r *run) resyncGroups(n *herald.SCIMResyncCounts, remotes []remote, locals []LocalResource) ([]Change, error) {
	mapped, err := r.s.ListRemoteIDs(r.ctx, r.t.ID, KindGroup)
	if err != nil {
		return nil, err
	}
	users, err := r.s.ListRemoteIDs(r.ctx, r.t.ID, KindUser)
	if err != nil {
		return nil, err
	}
	byID, byName := map[string]remote{}, map[string]remote{}
	for _, x := range remotes {
		byID[x.ID] = x
		byName[x.DisplayName] = x
	}
	claimed := map[string]bool{}
	for _, id := range mapped {
		claimed[id] = true
	}
	var changes []Change
	for _, l := range locals {
		var b groupBody
		if err := json.Unmarshal(l.Data, &b); err != nil || (len(r.t.OnlyGroups) > 0 && !slices.Contains(r.t.OnlyGroups, l.Name)) {
			continue
		}
		var ids []string
		for _, m := range b.Members {
			if id, ok := users[m]; ok {
				ids = append(ids, id)
			}
		}
		want := groupResource(l.Name, ids)
		sync := Change{Type: ChangeSync, Subject: "group:" + l.Name, Data: l.Data}
		id, isMapped := mapped[l.Name]
		x, there := byID[id]
		if !isMapped {
			if x, there = byName[l.Name]; there && !claimed[x.ID] {
				if err := r.s.SetRemoteID(r.ctx, r.t.ID, KindGroup, l.Name, x.ID); err != nil {
					return nil, err
				}
				claimed[x.ID] = true
				n.Adopted++
			} else {
				there = false
			}
		}
		delete(mapped, l.Name)
		switch {
		case !there:
			if isMapped {
				if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindGroup, l.Name); err != nil {
					return nil, err
				}
			}
			n.Created++
			changes = append(changes, sync)
		case sameGroup(x, want):
			n.Unchanged++
		default:
			n.Updated++
			changes = append(changes, sync)
		}
	}
	for name, id := range mapped {
		if _, there := byID[id]; !there {
			if err := r.s.DeleteRemoteID(r.ctx, r.t.ID, KindGroup, name); err != nil {
				return nil, err
			}
			continue
		}
		n.Deprovisioned++
		data, _ := json.Marshal(map[string]string{"name": name})
		changes = append(changes, Change{Type: ChangeRemove, Subject: "group:" + name, Data: data})
	}
	for _, x := range remotes {
		if !claimed[x.ID] {
			n.Unmanaged++
		}
	}
	return changes, nil
}
