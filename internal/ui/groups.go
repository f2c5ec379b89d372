package ui

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// groupRoutes are for admins only, like groups in the API.
func (h *Handler) groupRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /groups", Access: web.Admin, Handle: h.groups},
		{Pattern: "GET /groups/new", Access: web.Admin, Handle: h.newGroupPage},
		{Pattern: "POST /groups/new", Access: web.Admin, Handle: h.createGroup},
		{Pattern: "GET /groups/{name}", Access: web.Admin, Handle: h.groupPage},
		{Pattern: "POST /groups/{name}", Access: web.Admin, Handle: h.saveGroup},
		{Pattern: "POST /groups/{name}/members", Access: web.Admin, Handle: h.addMember},
		{Pattern: "POST /groups/{name}/members/{username}/remove", Access: web.Admin, Handle: h.removeMember},
		{Pattern: "GET /groups/{name}/delete", Access: web.Admin, Handle: h.confirmDeleteGroup},
		{Pattern: "POST /groups/{name}/delete", Access: web.Admin, Handle: h.deleteGroup},
	}
}

var groupFields = []string{"name", "is_admin", "username"}

// groupsView is one page of the groups list.
type groupsView struct {
	Groups []herald.Group
	Pager  pager
}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request) error {
	all, err := h.dir.ListGroups(r.Context(), actor(r))
	if err != nil {
		return err
	}
	pg := pagerFor(r, "groups")
	shown := pageOf(all, &pg, func(g herald.Group) string { return g.Name + " " + strings.Join(g.Members, " ") })
	return h.render(w, r, http.StatusOK, "groups", page{Title: "Groups", Data: groupsView{Groups: shown, Pager: pg}})
}

// groupView is what the group page shows: its settings form, one page of
// its members (searchable, each with a remove button) and, for the
// add-member search (?add=), the users found who are not members yet.
type groupView struct {
	New       bool
	Name      string
	Members   []string
	Pager     pager
	AddQ      string
	Found     []herald.User
	FoundMore int // how many more match than are shown
}

// membersFound is how many users the add-member search shows at once.
const membersFound = 20

func (h *Handler) newGroupPage(w http.ResponseWriter, r *http.Request) error {
	return h.showGroup(w, r, "", url.Values{}, nil)
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request) error {
	return h.showGroup(w, r, r.PathValue("name"), nil, nil)
}

// showGroup renders the group page for a new group (name "") or an
// existing one; form and formErr, when given, keep what the user typed and
// say what is wrong.
func (h *Handler) showGroup(w http.ResponseWriter, r *http.Request, name string, form url.Values, formErr error) error {
	a := actor(r)
	v := groupView{New: name == "", Name: name, Pager: pagerFor(r, "members")}
	title := "Add group · Groups"
	if name != "" {
		g, err := h.dir.GetGroup(r.Context(), a, name)
		if err != nil {
			return err
		}
		title = g.Name + " · Groups"
		if form == nil {
			form = url.Values{"name": {g.Name}}
			if g.IsAdmin {
				form.Set("is_admin", "on")
			}
		}
		v.Members = pageOf(g.Members, &v.Pager, func(s string) string { return s })
		v.Pager.Extra = url.Values{}
		if v.AddQ = strings.TrimSpace(r.URL.Query().Get("add")); v.AddQ != "" {
			v.Pager.Extra.Set("add", v.AddQ)
			if v.Found, v.FoundMore, err = h.nonMembers(r, g, v.AddQ); err != nil {
				return err
			}
		}
	}
	p := page{Title: title, Form: form, Data: v}
	return h.renderForm(w, r, "group", p, formErr, groupFields)
}

// nonMembers returns up to membersFound users matching q who are not in g,
// and how many more there are.
func (h *Handler) nonMembers(r *http.Request, g herald.Group, q string) ([]herald.User, int, error) {
	// Members among the matches are skipped, so ask for enough to fill
	// the list even if every member matches.
	users, total, err := h.dir.FindUsers(r.Context(), actor(r), q, 0, membersFound+len(g.Members))
	if err != nil {
		return nil, 0, err
	}
	var out []herald.User
	skipped := 0
	for _, u := range users {
		if slices.Contains(g.Members, u.Username) {
			skipped++
			continue
		}
		if len(out) < membersFound {
			out = append(out, u)
		}
	}
	return out, max(total-skipped-len(out), 0), nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	g, err := h.dir.CreateGroup(r.Context(), actor(r), herald.Group{Name: strings.TrimSpace(f.Get("name")), Members: []string{}, IsAdmin: f.Get("is_admin") != ""})
	return h.afterForm(w, r, err, func(err error) error {
		return h.showGroup(w, r, "", f, err)
	}, "/groups/"+url.PathEscape(g.Name), "Group "+g.Name+" created. Add its members below.")
}

// saveGroup changes a group's name and admin flag; members are added and
// removed one at a time (addMember, removeMember).
func (h *Handler) saveGroup(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	newName, isAdmin := strings.TrimSpace(f.Get("name")), f.Get("is_admin") != ""
	name := r.PathValue("name")
	_, err := h.dir.UpdateGroup(r.Context(), actor(r), name, directory.GroupChange{Name: &newName, IsAdmin: &isAdmin})
	return h.afterForm(w, r, err, func(err error) error {
		return h.showGroup(w, r, name, f, err)
	}, "/groups/"+url.PathEscape(newName), "Group "+newName+" saved.")
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request) error {
	name, username := r.PathValue("name"), strings.TrimSpace(r.PostForm.Get("username"))
	_, err := h.dir.AddMember(r.Context(), actor(r), name, username)
	back := "/groups/" + url.PathEscape(name)
	if q := r.PostForm.Get("add"); q != "" {
		back += "?add=" + url.QueryEscape(q)
	}
	return h.afterForm(w, r, err, func(err error) error {
		return h.showGroup(w, r, name, nil, err)
	}, back, username+" added to "+name+".")
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) error {
	name, username := r.PathValue("name"), r.PathValue("username")
	_, err := h.dir.RemoveMember(r.Context(), actor(r), name, username)
	return h.afterForm(w, r, err, func(err error) error {
		return h.showGroup(w, r, name, nil, err)
	}, "/groups/"+url.PathEscape(name), username+" removed from "+name+".")
}

func (h *Handler) confirmDeleteGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := h.dir.GetGroup(r.Context(), actor(r), name); err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "confirm", page{Title: "Delete " + name + " · Groups", Data: confirmView{
		Heading:  "Delete group",
		Question: "Delete group " + name + "? Its members leave it; webhooks are told. This cannot be undone.",
		Action:   "/groups/" + url.PathEscape(name) + "/delete", Button: "Delete " + name, Back: "/groups/" + url.PathEscape(name),
	}})
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := h.dir.DeleteGroup(r.Context(), actor(r), name); err != nil {
		return err
	}
	return h.redirect(w, r, "/groups", "Group "+name+" deleted.")
}
