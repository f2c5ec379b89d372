package ui

import (
	"net/http"
	"net/url"
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
		{Pattern: "GET /groups/{name}/delete", Access: web.Admin, Handle: h.confirmDeleteGroup},
		{Pattern: "POST /groups/{name}/delete", Access: web.Admin, Handle: h.deleteGroup},
	}
}

var groupFields = []string{"name", "members", "is_admin"}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request) error {
	groups, err := h.dir.ListGroups(r.Context(), actor(r))
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "groups", page{Title: "Groups", Data: groups})
}

// groupView is what the group form shows.
type groupView struct {
	New      bool
	Name     string
	AllUsers []herald.User
}

func (h *Handler) newGroupPage(w http.ResponseWriter, r *http.Request) error {
	return h.showGroup(w, r, "", url.Values{}, nil)
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request) error {
	return h.showGroup(w, r, r.PathValue("name"), nil, nil)
}

// showGroup renders the group form for a new group (name "") or an
// existing one; form and formErr, when given, keep what the user typed and
// say what is wrong.
func (h *Handler) showGroup(w http.ResponseWriter, r *http.Request, name string, form url.Values, formErr error) error {
	a := actor(r)
	users, err := h.dir.ListUsers(r.Context(), a)
	if err != nil {
		return err
	}
	if form == nil {
		g, err := h.dir.GetGroup(r.Context(), a, name)
		if err != nil {
			return err
		}
		form = url.Values{"name": {g.Name}, "members": g.Members}
		if g.IsAdmin {
			form.Set("is_admin", "on")
		}
	}
	p := page{Title: "Groups", Form: form, Data: groupView{New: name == "", Name: name, AllUsers: users}}
	if formErr != nil {
		return h.formError(w, r, "group", p, formErr, groupFields)
	}
	return h.render(w, r, http.StatusOK, "group", p)
}

func groupFromForm(f url.Values) herald.Group {
	members := f["members"]
	if members == nil {
		members = []string{}
	}
	return herald.Group{Name: strings.TrimSpace(f.Get("name")), Members: members, IsAdmin: f.Get("is_admin") != ""}
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.dir.CreateGroup(r.Context(), actor(r), groupFromForm(r.PostForm))
	return h.afterForm(w, r, err, func(err error) error {
		return h.showGroup(w, r, "", r.PostForm, err)
	}, "/groups", "Group "+g.Name+" created.")
}

func (h *Handler) saveGroup(w http.ResponseWriter, r *http.Request) error {
	in := groupFromForm(r.PostForm)
	name := r.PathValue("name")
	_, err := h.dir.UpdateGroup(r.Context(), actor(r), name, directory.GroupChange{Name: &in.Name, Members: &in.Members, IsAdmin: &in.IsAdmin})
	return h.afterForm(w, r, err, func(err error) error {
		return h.showGroup(w, r, name, r.PostForm, err)
	}, "/groups", "Group "+in.Name+" saved.")
}

func (h *Handler) confirmDeleteGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := h.dir.GetGroup(r.Context(), actor(r), name); err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "confirm", page{Title: "Delete group", Data: confirmView{
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
