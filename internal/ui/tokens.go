package ui

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// tokenRoutes manage a user's personal API tokens: the user, or an admin
// for anyone.
func (h *Handler) tokenRoutes() []web.Route {
	self := web.SelfOrAdmin("username")
	return []web.Route{
		{Pattern: "GET /users/{username}/tokens", Access: self, Handle: h.tokensPage},
		{Pattern: "POST /users/{username}/tokens", Access: self, Handle: h.createToken},
		{Pattern: "POST /users/{username}/tokens/{id}/revoke", Access: self, Handle: web.WithID("id", h.revokeToken)},
	}
}

var tokenFields = []string{"name"}

// tokensView is what a user's tokens page shows: one page of the tokens
// and, right after one was made, its secret, shown this once.
type tokensView struct {
	Username string
	Tokens   []herald.APIToken
	Pager    pager
	New      *directory.NewToken
}

func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request) error {
	return h.showTokens(w, r, url.Values{}, nil, nil)
}

// showTokens renders the tokens page with the form as given; formErr says
// what is wrong with it, created is a token to show once.
func (h *Handler) showTokens(w http.ResponseWriter, r *http.Request, form url.Values, formErr error, created *directory.NewToken) error {
	username := r.PathValue("username")
	all, err := h.dir.ListAPITokens(r.Context(), actor(r), username)
	if err != nil {
		return err
	}
	pg := pagerFor(r, "tokens")
	shown := pageOf(all, &pg, func(t herald.APIToken) string { return t.Name })
	section := "Users"
	if !actor(r).IsAdmin {
		section = "My profile"
	}
	p := page{Title: "API tokens · " + username + " · " + section, Form: form,
		Data: tokensView{Username: username, Tokens: shown, Pager: pg, New: created}}
	return h.renderForm(w, r, "tokens", p, formErr, tokenFields)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) error {
	t, err := h.dir.CreateAPIToken(r.Context(), actor(r), r.PathValue("username"), r.PostForm.Get("name"))
	if isFormError(err) {
		return h.showTokens(w, r, r.PostForm, err, nil)
	}
	if err != nil {
		return err
	}
	// Shown in this answer only (no redirect): the secret is never stored
	// in the clear, nor put in a cookie or a URL.
	return h.showTokens(w, r, url.Values{}, nil, &t)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, id int64) error {
	username := r.PathValue("username")
	if err := h.dir.DeleteAPIToken(r.Context(), actor(r), username, id); err != nil {
		return err
	}
	return h.redirect(w, r, "/users/"+url.PathEscape(username)+"/tokens", fmt.Sprintf("API token %d revoked.", id))
}
