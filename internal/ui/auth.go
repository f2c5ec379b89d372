package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/session"
	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) authRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /login", Access: web.Anyone, Handle: h.loginPage},
		// A login form holds a username or email, a password and a path: 8 KiB is plenty.
		{Pattern: "POST /login", Access: web.Anyone, Handle: h.login, MaxBody: 8 << 10},
		{Pattern: "POST /logout", Access: web.Anyone, Handle: h.logout},
	}
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, r, http.StatusOK, "login", page{Title: "Log in", Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	username, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	next := r.PostForm.Get("next")
	var err error
	var token string
	c := web.ClientOf(r)
	if username == "" || password == "" {
		err = herald.Errorf(herald.EINVALID, "username and password are required")
	} else {
		_, token, err = h.dir.Login(r.Context(), username, password, c.Addr)
	}
	if err != nil {
		if web.StatusOf(err) >= 500 {
			return err
		}
		form := url.Values{"next": {next}}
		if len(username) <= 254 { // never echo what cannot be a username or an email
			form.Set("username", username)
		}
		return h.render(w, r, web.ErrorStatus(w, err), "login", page{Title: "Log in", Form: form, Errors: map[string]string{"_": herald.ErrorMessage(err)}})
	}
	session.Set(w, token, directory.SessionTTL, c.Secure)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	return nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if token := session.Token(r); token != "" {
		_ = h.dir.Logout(r.Context(), token)
	}
	session.Clear(w, web.ClientOf(r).Secure)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
