package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) userRoutes() []web.Route {
	self := web.SelfOrAdmin("username")
	return []web.Route{
		{Pattern: "GET /users", Access: web.Admin, Handle: h.users},
		{Pattern: "GET /users/new", Access: web.Admin, Handle: h.newUserPage},
		{Pattern: "POST /users/new", Access: web.Admin, Handle: h.createUser},
		{Pattern: "GET /users/{username}", Access: self, Handle: h.userPage},
		{Pattern: "POST /users/{username}", Access: self, Handle: h.saveUser},
		{Pattern: "GET /users/{username}/delete", Access: web.Admin, Handle: h.confirmDeleteUser},
		{Pattern: "POST /users/{username}/delete", Access: web.Admin, Handle: h.deleteUser},
		{Pattern: "POST /users/{username}/password", Access: self, Handle: h.setPassword},
		{Pattern: "POST /users/{username}/provision", Access: self, Handle: h.provision},
	}
}

// userFields are the form fields of the user pages, named as in the API.
var userFields = []string{"username", "first_name", "last_name", "email", "phone", "password", "ssh_key", "pgp_key", "pgp_cert_id", "groups", "new_password", "old_password", "worker"}

// usersView is one page of the users list.
type usersView struct {
	Users []herald.User
	Pager pager
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request) error {
	pg := pagerFor(r, "users")
	users, total, err := h.dir.FindUsers(r.Context(), actor(r), pg.Q, pg.Offset(), pg.Per)
	if err != nil {
		return err
	}
	pg.Total = total
	if len(users) == 0 && total > 0 && pg.Page > pg.Pages() {
		// Past the end (the list shrank): show the last page.
		pg.Page = pg.Pages()
		if users, pg.Total, err = h.dir.FindUsers(r.Context(), actor(r), pg.Q, pg.Offset(), pg.Per); err != nil {
			return err
		}
	}
	return h.render(w, r, http.StatusOK, "users", page{Title: "Users", Data: usersView{Users: users, Pager: pg}})
}

func (h *Handler) newUserPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, r, http.StatusOK, "user_new", page{Title: "Add user · Users", Form: url.Values{}})
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	u, err := h.dir.CreateUser(r.Context(), actor(r), directory.NewUser{
		Username: strings.TrimSpace(f.Get("username")), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
		Email: f.Get("email"), Phone: f.Get("phone"), Password: f.Get("password"),
	})
	f.Del("password") // never sent back to the browser
	return h.afterForm(w, r, err, func(err error) error {
		return h.renderForm(w, r, "user_new", page{Title: "Add user · Users", Form: f}, err, userFields)
	}, "/users/"+url.PathEscape(u.Username), "User "+u.Username+" created.")
}

// userView is what the user page shows.
type userView struct {
	User      herald.User
	AllGroups []herald.Group
	Jobs      []herald.Job
	Self      bool
}

func (h *Handler) userPage(w http.ResponseWriter, r *http.Request) error {
	return h.showUser(w, r, nil, nil)
}

// showUser renders the user page; form and err, when given, replace the
// stored values so what the user typed is kept, and say what is wrong.
func (h *Handler) showUser(w http.ResponseWriter, r *http.Request, form url.Values, formErr error) error {
	a := actor(r)
	username := r.PathValue("username")
	u, err := h.dir.GetUser(r.Context(), a, username)
	if err != nil {
		return err
	}
	v := userView{User: u, Self: a.Username == u.Username}
	if a.IsAdmin {
		if v.AllGroups, err = h.dir.ListGroups(r.Context(), a); err != nil {
			return err
		}
	}
	if v.Jobs, err = h.dir.ListJobs(r.Context(), a, username); err != nil {
		return err
	}
	if form == nil {
		form = url.Values{
			"first_name": {u.FirstName}, "last_name": {u.LastName}, "email": {u.Email}, "phone": {u.Phone},
			"ssh_key": {u.SSHKey}, "pgp_key": {u.PGPKey}, "pgp_cert_id": {u.PGPCertID}, "groups": u.Groups,
		}
	}
	title := u.Username + " · Users"
	if !a.IsAdmin {
		title = "My profile"
	}
	p := page{Title: title, Form: form, Data: v}
	return h.renderForm(w, r, "user", p, formErr, userFields)
}

func (h *Handler) saveUser(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	ch := directory.UserChange{}
	for _, p := range []struct {
		name string
		dst  **string
	}{{"first_name", &ch.FirstName}, {"last_name", &ch.LastName}, {"email", &ch.Email}, {"phone", &ch.Phone},
		{"ssh_key", &ch.SSHKey}, {"pgp_key", &ch.PGPKey}, {"pgp_cert_id", &ch.PGPCertID}} {
		if _, ok := f[p.name]; ok {
			v := f.Get(p.name)
			*p.dst = &v
		}
	}
	// Unchecked boxes send nothing; the marker says the group boxes were on
	// the form, so "none checked" means "in no group".
	if f.Get("groups_shown") == "1" {
		groups := f["groups"]
		if groups == nil {
			groups = []string{}
		}
		ch.Groups = &groups
	}
	username := r.PathValue("username")
	_, err := h.dir.UpdateUser(r.Context(), actor(r), username, ch)
	return h.afterForm(w, r, err, func(err error) error {
		return h.showUser(w, r, f, err)
	}, "/users/"+url.PathEscape(username), "Saved.")
}

func (h *Handler) confirmDeleteUser(w http.ResponseWriter, r *http.Request) error {
	username := r.PathValue("username")
	if _, err := h.dir.GetUser(r.Context(), actor(r), username); err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "confirm", page{Title: "Delete " + username + " · Users", Data: confirmView{
		Heading:  "Delete user",
		Question: "Delete user " + username + "? Webhooks will be told (user_deleted). This cannot be undone.",
		Action:   "/users/" + url.PathEscape(username) + "/delete", Button: "Delete " + username,
		Back: "/users/" + url.PathEscape(username),
	}})
}

type confirmView struct {
	Heading, Question, Action, Button, Back string
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	username := r.PathValue("username")
	if err := h.dir.DeleteUser(r.Context(), actor(r), username); err != nil {
		return err
	}
	return h.redirect(w, r, "/users", "User "+username+" deleted.")
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) error {
	username := r.PathValue("username")
	err := h.dir.SetPassword(r.Context(), actor(r), username, r.PostForm.Get("old_password"), r.PostForm.Get("new_password"), web.ClientOf(r).Addr)
	return h.afterForm(w, r, err, func(err error) error {
		return h.showUser(w, r, nil, err)
	}, "/users/"+url.PathEscape(username), "Password changed.")
}

func (h *Handler) provision(w http.ResponseWriter, r *http.Request) error {
	username := r.PathValue("username")
	_, err := h.dir.CreateJob(r.Context(), actor(r), username, strings.TrimSpace(r.PostForm.Get("worker")))
	return h.afterForm(w, r, err, func(err error) error {
		return h.showUser(w, r, nil, err)
	}, "/users/"+url.PathEscape(username), "Provisioning job queued; plug the key into the station.")
}
