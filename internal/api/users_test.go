package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// TestUserBody: what PUT and PATCH accept as a user: Herald's USER as GET
// returns it, and Defguard's user object of any release (its keys that
// Herald lacks ignored, null for an unset string); what a PUT still misses;
// and that an unknown key or a wrong type is refused, naming it.
func TestUserBody(t *testing.T) {
	const profile = `"username":"jdoe","first_name":"Jane","last_name":"Doe","email":"jdoe@example.com","groups":["admin"]`
	tests := []struct {
		name, body string
		wantErr    string // "" for accepted
		missing    string // what a PUT lacks, comma-separated
		phone      *string
		sshKey     *string
	}{
		{
			name: "Herald's USER",
			body: `{"id":3,` + profile + `,"phone":"123","is_admin":true,"ssh_key":"","pgp_key":"","pgp_cert_id":"",` +
				`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`,
			phone: ptr("123"), sshKey: ptr(""),
		},
		{
			name: "Defguard 2.0's user object: no keys, phone null",
			body: `{"id":3,` + profile + `,"phone":null,"mfa_enabled":false,"totp_enabled":false,"email_mfa_enabled":false,` +
				`"mfa_method":"None","authorized_apps":[{"oauth2client_id":1,"user_id":3,"oauth2client_name":"wiki"}],` +
				`"is_active":true,"enrolled":true,"is_admin":true,"ldap_pass_requires_change":false}`,
			phone: ptr(""),
		},
		{
			name: "Defguard's newest user object",
			body: `{"id":3,` + profile + `,"name":"Jane Doe","phone":"123","mfa_enabled":true,"totp_enabled":true,"email_mfa_enabled":false,` +
				`"mfa_method":"OneTimePassword","authorized_apps":[],"is_active":true,"enrolled":true,"is_admin":false,` +
				`"ldap_pass_requires_change":false,"password_management_disabled":false,"devices":[{"id":1,"name":"laptop"}],` +
				`"has_non_mfa_location_access":true,"has_non_posture_location_access":false}`,
			phone: ptr("123"),
		},
		{
			name: "Defguard before v0.10.0: keys, null when unset",
			body: `{"id":3,` + profile + `,"phone":null,"ssh_key":null,"pgp_key":null,"pgp_cert_id":null,"mfa_enabled":false,` +
				`"totp_enabled":false,"devices":[],"wallets":[],"security_keys":[],"mfa_method":"None","authorized_apps":[]}`,
			phone: ptr(""), sshKey: ptr(""),
		},
		{
			name:    "Herald's fields without the keys",
			body:    `{` + profile + `,"phone":""}`,
			missing: "pgp_cert_id, pgp_key, ssh_key", phone: ptr(""),
		},
		{name: "only a name", body: `{"first_name":"Jane"}`, missing: "email, groups, last_name, pgp_cert_id, pgp_key, phone, ssh_key"},
		{name: "an unknown key", body: `{` + profile + `,"shoe_size":42}`, wantErr: `unknown field "shoe_size"`},
		{name: "an unknown key beside Defguard's", body: `{` + profile + `,"mfa_enabled":true,"is_superuser":true}`, wantErr: `unknown field "is_superuser"`},
		{name: "a phone that is a number", body: `{"phone":5}`, wantErr: "phone: must be a string"},
		{name: "a key that is a number", body: `{"ssh_key":5}`, wantErr: "ssh_key: must be a string"},
		// Defguard's keys are in an embedded struct, whose Go name must not show.
		{name: "is_active not a bool", body: `{"is_active":"yes"}`, wantErr: "is_active: must be true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("PUT", "/api/v1/user/jdoe", strings.NewReader(tt.body))
			var b userBody
			err := decode(r, &b)
			if tt.wantErr != "" {
				if herald.ErrorCode(err) != herald.EINVALID || !strings.HasPrefix(herald.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("decode: %v, want EINVALID %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := strings.Join(b.missing(), ", "); got != tt.missing {
				t.Errorf("missing = %q, want %q", got, tt.missing)
			}
			ch := b.change()
			if !sameString(ch.Phone, tt.phone) || !sameString(ch.SSHKey, tt.sshKey) {
				t.Errorf("phone %v, ssh_key %v; want %v, %v", show(ch.Phone), show(ch.SSHKey), show(tt.phone), show(tt.sshKey))
			}
		})
	}
}

func ptr(s string) *string { return &s }

func sameString(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(p *string) string {
	if p == nil {
		return "missing"
	}
	return `"` + *p + `"`
}
