package api

import (
	"encoding/json"
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

// userBody is the body of PUT and PATCH. The writable fields can tell a
// missing field from an empty one; the read-only fields of USER, and those
// of Defguard's user object that Herald has nothing for, are accepted (and
// ignored) so a client may send back what it read. Any other key is still
// refused as unknown.
type userBody struct {
	FirstName *string   `json:"first_name"`
	LastName  *string   `json:"last_name"`
	Email     *string   `json:"email"`
	Phone     optString `json:"phone"`
	SSHKey    optString `json:"ssh_key"`
	PGPKey    optString `json:"pgp_key"`
	PGPCertID optString `json:"pgp_cert_id"`
	Groups    *[]string `json:"groups"`

	Username  *string         `json:"username"`
	ID        json.RawMessage `json:"id"`
	IsAdmin   json.RawMessage `json:"is_admin"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`

	defguardUser
}

// defguardUser holds the keys of Defguard's user object (UserInfo, in any
// release since v0.x) that Herald's USER lacks. Herald has no MFA, devices,
// OpenID apps, enrollment or LDAP, so they are read-only here. is_active is
// writable in Defguard; every Herald user is active, so true is accepted
// and false refused rather than ignored.
type defguardUser struct {
	IsActive                    *bool           `json:"is_active"`
	Name                        json.RawMessage `json:"name"`
	MFAEnabled                  json.RawMessage `json:"mfa_enabled"`
	TOTPEnabled                 json.RawMessage `json:"totp_enabled"`
	EmailMFAEnabled             json.RawMessage `json:"email_mfa_enabled"`
	MFAMethod                   json.RawMessage `json:"mfa_method"`
	AuthorizedApps              json.RawMessage `json:"authorized_apps"`
	Enrolled                    json.RawMessage `json:"enrolled"`
	LDAPPassRequiresChange      json.RawMessage `json:"ldap_pass_requires_change"`
	PasswordManagementDisabled  json.RawMessage `json:"password_management_disabled"`
	Devices                     json.RawMessage `json:"devices"`
	Wallets                     json.RawMessage `json:"wallets"`
	SecurityKeys                json.RawMessage `json:"security_keys"`
	HasNonMFALocationAccess     json.RawMessage `json:"has_non_mfa_location_access"`
	HasNonPostureLocationAccess json.RawMessage `json:"has_non_posture_location_access"`
}

// given reports whether the body carries any key of Defguard's user object
// that Herald's USER lacks: then it is Defguard's user object.
func (d defguardUser) given() bool {
	if d.IsActive != nil {
		return true
	}
	for _, v := range []json.RawMessage{d.Name, d.MFAEnabled, d.TOTPEnabled, d.EmailMFAEnabled, d.MFAMethod,
		d.AuthorizedApps, d.Enrolled, d.LDAPPassRequiresChange, d.PasswordManagementDisabled, d.Devices,
		d.Wallets, d.SecurityKeys, d.HasNonMFALocationAccess, d.HasNonPostureLocationAccess} {
		if v != nil {
			return true
		}
	}
	return false
}

// optString is a string field that may be missing; null is the empty
// string, as Defguard sends an unset phone (and, before v0.10.0, unset
// keys).
type optString struct {
	set bool
	s   string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.s = ""
		return nil
	}
	return json.Unmarshal(b, &o.s)
}

// ptr returns the value, or nil when the field was missing.
func (o optString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.s
}

func (b userBody) change() directory.UserChange {
	return directory.UserChange{
		FirstName: b.FirstName, LastName: b.LastName, Email: b.Email, Phone: b.Phone.ptr(),
		SSHKey: b.SSHKey.ptr(), PGPKey: b.PGPKey.ptr(), PGPCertID: b.PGPCertID.ptr(), Groups: b.Groups,
	}
}

// missing names the fields a PUT must give and b lacks, sorted. Defguard's
// user object has had no key fields since v0.10.0 and its PUT never changes
// keys, so when b is Defguard's user object they may be left out, and are
// then kept.
func (b userBody) missing() []string {
	required := map[string]bool{
		"first_name": b.FirstName != nil, "last_name": b.LastName != nil, "email": b.Email != nil,
		"phone": b.Phone.set, "groups": b.Groups != nil,
	}
	if !b.defguardUser.given() {
		required["ssh_key"], required["pgp_key"], required["pgp_cert_id"] = b.SSHKey.set, b.PGPKey.set, b.PGPCertID.set
	}
	var missing []string
	for name, given := range required {
		if !given {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
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
	if b.IsActive != nil && !*b.IsActive {
		return herald.Invalid("is_active", "cannot be false: Herald has no inactive users (delete the user instead)")
	}
	if missing := b.missing(); replace && len(missing) > 0 {
		return herald.Errorf(herald.EINVALID, "PUT replaces the whole user; missing: %s (use PATCH to change only some fields)", strings.Join(missing, ", "))
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
