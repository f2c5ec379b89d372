package api

import (
	"net"
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/session"
)

func (h *Handler) registerAuth(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/auth", h.login)
	mux.HandleFunc("POST /api/v1/auth/logout", h.logout)
	mux.HandleFunc("GET /api/v1/me", h.me)
	mux.HandleFunc("POST /api/v1/user/{username}/api_token", h.createAPIToken)
	mux.HandleFunc("GET /api/v1/user/{username}/api_token", h.listAPITokens)
	mux.HandleFunc("DELETE /api/v1/user/{username}/api_token/{id}", h.deleteAPIToken)
}

// ClientIP is the address a request came from, for login throttling.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.Username == "" || in.Password == "" {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "username and password are required"))
		return
	}
	u, token, err := h.dir.Login(r.Context(), in.Username, in.Password, ClientIP(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	session.Set(w, r, token, directory.SessionTTL)
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if token := session.Token(r); token != "" {
		if err := h.dir.Logout(r.Context(), token); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	session.Clear(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	u, err := h.dir.Me(r.Context(), actor(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (h *Handler) createAPIToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := h.dir.CreateAPIToken(r.Context(), actor(r), r.PathValue("username"), in.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "name": t.Name, "token": t.Token, "created_at": t.CreatedAt})
}

func (h *Handler) listAPITokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := h.dir.ListAPITokens(r.Context(), actor(r), r.PathValue("username"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokens)
}

func (h *Handler) deleteAPIToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = h.dir.DeleteAPIToken(r.Context(), actor(r), r.PathValue("username"), id)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
