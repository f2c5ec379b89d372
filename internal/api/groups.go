package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

func (h *Handler) registerGroups(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/group", h.listGroups)
	mux.HandleFunc("POST /api/v1/group", h.createGroup)
	mux.HandleFunc("GET /api/v1/group/{name}", h.getGroup)
	mux.HandleFunc("PUT /api/v1/group/{name}", h.replaceGroup)
	mux.HandleFunc("DELETE /api/v1/group/{name}", h.deleteGroup)
	mux.HandleFunc("POST /api/v1/group/{name}", h.addMember)
	mux.HandleFunc("DELETE /api/v1/group/{name}/user/{username}", h.removeMember)
}

// groupBody is the body of POST and PUT on groups.
type groupBody struct {
	Name    *string   `json:"name"`
	Members *[]string `json:"members"`
	IsAdmin *bool     `json:"is_admin"`
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) {
	groups, err := h.dir.ListGroups(r.Context(), actor(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, groups)
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) {
	g, err := h.dir.GetGroup(r.Context(), actor(r), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) {
	var b groupBody
	if err := decode(w, r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	in := herald.Group{}
	if b.Name != nil {
		in.Name = *b.Name
	}
	if b.Members != nil {
		in.Members = *b.Members
	}
	if b.IsAdmin != nil {
		in.IsAdmin = *b.IsAdmin
	}
	g, err := h.dir.CreateGroup(r.Context(), actor(r), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, g)
}

func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request) {
	var b groupBody
	if err := decode(w, r, &b); err != nil {
		h.fail(w, r, err)
		return
	}
	if b.Members == nil || b.IsAdmin == nil {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "PUT replaces the group: members and is_admin are required (name is optional and renames it)"))
		return
	}
	g, err := h.dir.UpdateGroup(r.Context(), actor(r), r.PathValue("name"),
		directory.GroupChange{Name: b.Name, Members: b.Members, IsAdmin: b.IsAdmin})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) {
	if err := h.dir.DeleteGroup(r.Context(), actor(r), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.Username == "" {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "username: is required"))
		return
	}
	g, err := h.dir.AddMember(r.Context(), actor(r), r.PathValue("name"), in.Username)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) {
	if _, err := h.dir.RemoveMember(r.Context(), actor(r), r.PathValue("name"), r.PathValue("username")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
