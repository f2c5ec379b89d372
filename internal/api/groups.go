package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) groupRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/group", Access: web.Admin, Handle: h.listGroups},
		{Pattern: "POST /api/v1/group", Access: web.Admin, Handle: h.createGroup},
		{Pattern: "GET /api/v1/group/{name}", Access: web.Admin, Handle: h.getGroup},
		{Pattern: "PUT /api/v1/group/{name}", Access: web.Admin, Handle: h.replaceGroup},
		{Pattern: "DELETE /api/v1/group/{name}", Access: web.Admin, Handle: h.deleteGroup},
		{Pattern: "POST /api/v1/group/{name}", Access: web.Admin, Handle: h.addMember},
		{Pattern: "DELETE /api/v1/group/{name}/user/{username}", Access: web.Admin, Handle: h.removeMember},
	}
}

// groupBody is the body of POST and PUT on groups.
type groupBody struct {
	Name    *string   `json:"name"`
	Members *[]string `json:"members"`
	IsAdmin *bool     `json:"is_admin"`
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.ListGroups(r.Context(), actor(r)))
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.GetGroup(r.Context(), actor(r), r.PathValue("name")))
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	var b groupBody
	if err := decode(r, &b); err != nil {
		return err
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
	return respond(w, http.StatusCreated)(h.dir.CreateGroup(r.Context(), actor(r), in))
}

func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request) error {
	var b groupBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Members == nil || b.IsAdmin == nil {
		return herald.Errorf(herald.EINVALID, "PUT replaces the group: members and is_admin are required (name is optional and renames it)")
	}
	return respond(w, http.StatusOK)(h.dir.UpdateGroup(r.Context(), actor(r), r.PathValue("name"),
		directory.GroupChange{Name: b.Name, Members: b.Members, IsAdmin: b.IsAdmin}))
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, h.dir.DeleteGroup(r.Context(), actor(r), r.PathValue("name")))
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string `json:"username"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Username == "" {
		return herald.Invalid("username", "is required")
	}
	return respond(w, http.StatusOK)(h.dir.AddMember(r.Context(), actor(r), r.PathValue("name"), in.Username))
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) error {
	_, err := h.dir.RemoveMember(r.Context(), actor(r), r.PathValue("name"), r.PathValue("username"))
	return noContent(w, err)
}
