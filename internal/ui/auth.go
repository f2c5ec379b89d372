package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/session"
)

func (h *Handler) registerAuth(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", h.loginPage)
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("POST /logout", h.logout)
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "login", page{Title: "Log in", Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	username, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	_, token, err := h.dir.Login(r.Context(), username, password, api.ClientIP(r))
	if err != nil {
		form := url.Values{"username": {username}, "next": {r.PostForm.Get("next")}}
		h.render(w, r, api.StatusOf(err), "login", page{Title: "Log in", Form: form, Errors: map[string]string{"_": herald.ErrorMessage(err)}})
		return
	}
	session.Set(w, r, token, directory.SessionTTL)
	next := r.PostForm.Get("next")
	// Only local paths: never send the user to another site after login.
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if token := session.Token(r); token != "" {
		_ = h.dir.Logout(r.Context(), token)
	}
	session.Clear(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
