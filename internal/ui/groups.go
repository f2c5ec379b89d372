package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

func (h *Handler) registerGroups(mux *http.ServeMux) {
	mux.HandleFunc("GET /groups", h.groups)
	mux.HandleFunc("GET /groups/new", h.newGroupPage)
	mux.HandleFunc("POST /groups/new", h.createGroup)
	mux.HandleFunc("GET /groups/{name}", h.groupPage)
	mux.HandleFunc("POST /groups/{name}", h.saveGroup)
	mux.HandleFunc("GET /groups/{name}/delete", h.confirmDeleteGroup)
	mux.HandleFunc("POST /groups/{name}/delete", h.deleteGroup)
}

var groupFields = []string{"name", "members", "is_admin"}

func (h *Handler) groups(w http.ResponseWriter, r *http.Request) {
	groups, err := h.dir.ListGroups(r.Context(), actor(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "groups", page{Title: "Groups", Data: groups})
}

// groupView is what the group form shows.
type groupView struct {
	New      bool
	Name     string
	AllUsers []herald.User
}

func (h *Handler) newGroupPage(w http.ResponseWriter, r *http.Request) {
	h.showGroup(w, r, http.StatusOK, "", url.Values{}, nil)
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request) {
	h.showGroup(w, r, http.StatusOK, r.PathValue("name"), nil, nil)
}

// showGroup renders the group form for a new group (name "") or an
// existing one; form, when given, keeps what the user typed.
func (h *Handler) showGroup(w http.ResponseWriter, r *http.Request, status int, name string, form url.Values, errs map[string]string) {
	a := actor(r)
	users, err := h.dir.ListUsers(r.Context(), a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if form == nil {
		g, err := h.dir.GetGroup(r.Context(), a, name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		form = url.Values{"name": {g.Name}, "members": g.Members}
		if g.IsAdmin {
			form.Set("is_admin", "on")
		}
	}
	h.render(w, r, status, "group", page{Title: "Groups", Form: form, Errors: errs, Data: groupView{New: name == "", Name: name, AllUsers: users}})
}

func groupFromForm(f url.Values) herald.Group {
	members := f["members"]
	if members == nil {
		members = []string{}
	}
	return herald.Group{Name: strings.TrimSpace(f.Get("name")), Members: members, IsAdmin: f.Get("is_admin") != ""}
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	g, err := h.dir.CreateGroup(r.Context(), actor(r), groupFromForm(r.PostForm))
	if isFormError(err) {
		h.showGroup(w, r, http.StatusBadRequest, "", r.PostForm, fieldErrors(err, groupFields...))
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/groups", "Group "+g.Name+" created.")
}

func (h *Handler) saveGroup(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	in := groupFromForm(r.PostForm)
	name := r.PathValue("name")
	_, err := h.dir.UpdateGroup(r.Context(), actor(r), name, directory.GroupChange{Name: &in.Name, Members: &in.Members, IsAdmin: &in.IsAdmin})
	if isFormError(err) {
		h.showGroup(w, r, http.StatusBadRequest, name, r.PostForm, fieldErrors(err, groupFields...))
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/groups", "Group "+in.Name+" saved.")
}

func (h *Handler) confirmDeleteGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := h.dir.GetGroup(r.Context(), actor(r), name); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "confirm", page{Title: "Delete group", Data: confirmView{
		Question: "Delete group " + name + "? Its members leave it; webhooks are told. This cannot be undone.",
		Action:   "/groups/" + url.PathEscape(name) + "/delete", Button: "Delete " + name, Back: "/groups/" + url.PathEscape(name),
	}})
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.dir.DeleteGroup(r.Context(), actor(r), name); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, "/groups", "Group "+name+" deleted.")
}
