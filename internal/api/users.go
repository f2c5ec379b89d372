package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

func (h *Handler) userRoutes() []web.Route {
	self := web.SelfOrAdmin("username")
	return []web.Route{
		{Pattern: "GET /api/v1/user", Access: web.Admin, Handle: h.listUsers},
		{Pattern: "POST /api/v1/user", Access: web.Admin, Handle: h.createUser},
		{Pattern: "POST /api/v1/user/available", Access: web.Admin, Handle: h.usernameAvailable},
		{Pattern: "GET /api/v1/user/{username}", Access: self, Handle: h.getUser},
		{Pattern: "PUT /api/v1/user/{username}", Access: self, Handle: h.replaceUser},
		{Pattern: "PATCH /api/v1/user/{username}", Access: self, Handle: h.patchUser},
		{Pattern: "DELETE /api/v1/user/{username}", Access: web.Admin, Handle: h.deleteUser},
		{Pattern: "PUT /api/v1/user/{username}/password", Access: self, Handle: h.setPassword},
		// Public on purpose: sshd's AuthorizedKeysCommand has no
		// credentials, and public keys are not secret.
		{Pattern: "GET /api/v1/ssh_authorized_keys", Access: web.Anyone, Handle: h.authorizedKeys},
	}
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.ListUsers(r.Context(), actor(r)))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.GetUser(r.Context(), actor(r), r.PathValue("username")))
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username  string `json:"username"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Email     string `json:"email"`
		Phone     string `json:"phone"`
		Password  string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	return respond(w, http.StatusCreated)(h.dir.CreateUser(r.Context(), actor(r), directory.NewUser{
		Username: in.Username, FirstName: in.FirstName, LastName: in.LastName,
		Email: in.Email, Phone: in.Phone, Password: in.Password,
	}))
}

// userBody is the body of PUT and PATCH. The writable fields are pointers
// so a missing field can be told from an empty one; the read-only fields of
// USER are accepted (and ignored) so a client may send back what it read.
type userBody struct {
	FirstName *string   `json:"first_name"`
	LastName  *string   `json:"last_name"`
	Email     *string   `json:"email"`
	Phone     *string   `json:"phone"`
	SSHKey    *string   `json:"ssh_key"`
	PGPKey    *string   `json:"pgp_key"`
	PGPCertID *string   `json:"pgp_cert_id"`
	Groups    *[]string `json:"groups"`

	Username  *string `json:"username"`
	ID        any     `json:"id"`
	IsAdmin   any     `json:"is_admin"`
	CreatedAt any     `json:"created_at"`
	UpdatedAt any     `json:"updated_at"`
}

func (b userBody) change() directory.UserChange {
	return directory.UserChange{
		FirstName: b.FirstName, LastName: b.LastName, Email: b.Email, Phone: b.Phone,
		SSHKey: b.SSHKey, PGPKey: b.PGPKey, PGPCertID: b.PGPCertID, Groups: b.Groups,
	}
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request) error {
	return h.updateUser(w, r, true)
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) error {
	return h.updateUser(w, r, false)
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, replace bool) error {
	username := r.PathValue("username")
	var b userBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Username != nil && *b.Username != username {
		return herald.Invalid("username", "cannot be changed")
	}
	if replace {
		var missing []string
		for name, v := range map[string]bool{
			"first_name": b.FirstName == nil, "last_name": b.LastName == nil, "email": b.Email == nil,
			"phone": b.Phone == nil, "ssh_key": b.SSHKey == nil, "pgp_key": b.PGPKey == nil,
			"pgp_cert_id": b.PGPCertID == nil, "groups": b.Groups == nil,
		} {
			if v {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return herald.Errorf(herald.EINVALID, "PUT replaces the whole user; missing: %s (use PATCH to change only some fields)", strings.Join(missing, ", "))
		}
	}
	return respond(w, http.StatusOK)(h.dir.UpdateUser(r.Context(), actor(r), username, b.change()))
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, h.dir.DeleteUser(r.Context(), actor(r), r.PathValue("username")))
}

func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		NewPassword string `json:"new_password"`
		OldPassword string `json:"old_password"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	return noContent(w, h.dir.SetPassword(r.Context(), actor(r), r.PathValue("username"), in.OldPassword, in.NewPassword, web.ClientOf(r).Addr))
}

func (h *Handler) usernameAvailable(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string `json:"username"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	return respond(w, http.StatusOK)(map[string]string{"msg": "username is available"}, h.dir.UsernameAvailable(r.Context(), actor(r), in.Username))
}

func (h *Handler) authorizedKeys(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	keys, err := h.dir.AuthorizedKeys(r.Context(), q.Get("username"), q.Get("group"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, k := range keys {
		_, _ = w.Write([]byte(k + "\n"))
	}
	return nil
}
