package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/session"
	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) authRoutes() []web.Route {
	return []web.Route{
		// A login body holds two short strings: 8 KiB is plenty.
		{Pattern: "POST /api/v1/auth", Access: web.Anyone, Handle: h.login, MaxBody: 8 << 10},
		{Pattern: "POST /api/v1/auth/logout", Access: web.Anyone, Handle: h.logout},
		{Pattern: "GET /api/v1/me", Access: web.AnyUser, Handle: h.me},
		{Pattern: "POST /api/v1/user/{username}/api_token", Access: web.SelfOrAdmin("username"), Handle: h.createAPIToken},
		{Pattern: "GET /api/v1/user/{username}/api_token", Access: web.SelfOrAdmin("username"), Handle: h.listAPITokens},
		{Pattern: "DELETE /api/v1/user/{username}/api_token/{id}", Access: web.SelfOrAdmin("username"), Handle: web.WithID("id", h.deleteAPIToken)},
	}
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Username == "" || in.Password == "" {
		return herald.Errorf(herald.EINVALID, "username and password are required")
	}
	c := web.ClientOf(r)
	u, token, err := h.dir.Login(r.Context(), in.Username, in.Password, c.Addr)
	if err != nil {
		return err
	}
	session.Set(w, token, directory.SessionTTL, c.Secure)
	return writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if token := session.Token(r); token != "" {
		if err := h.dir.Logout(r.Context(), token); err != nil {
			return err
		}
	}
	session.Clear(w, web.ClientOf(r).Secure)
	return noContent(w, nil)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.Me(r.Context(), actor(r)))
}

func (h *Handler) createAPIToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := h.dir.CreateAPIToken(r.Context(), actor(r), r.PathValue("username"), in.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "token": t.Token, "created_at": t.CreatedAt})
}

func (h *Handler) listAPITokens(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.ListAPITokens(r.Context(), actor(r), r.PathValue("username")))
}

func (h *Handler) deleteAPIToken(w http.ResponseWriter, r *http.Request, id int64) error {
	return noContent(w, h.dir.DeleteAPIToken(r.Context(), actor(r), r.PathValue("username"), id))
}
