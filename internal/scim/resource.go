package scim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// SCIM schema and message URNs (RFC 7643, RFC 7644).
const (
	SchemaUser    = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup   = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError   = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// userBody is what Apply reads of a user event's body (user_created,
// user_modified, scim_sync; user_deleted carries the username only).
type userBody struct {
	Username  string   `json:"username"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Email     string   `json:"email"`
	Phone     string   `json:"phone"`
	Groups    []string `json:"groups"`
}

// groupBody is what Apply reads of a group event's body.
type groupBody struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// User is a SCIM User resource as Herald sends it.
type User struct {
	Schemas      []string `json:"schemas"`
	ExternalID   string   `json:"externalId,omitempty"`
	UserName     string   `json:"userName"`
	Name         *Name    `json:"name,omitempty"`
	Emails       []Multi  `json:"emails,omitempty"`
	PhoneNumbers []Multi  `json:"phoneNumbers,omitempty"`
	Active       bool     `json:"active"`
}

// Name is a User's name.
type Name struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Multi is one value of a multi-valued attribute (emails, phoneNumbers).
type Multi struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Group is a SCIM Group resource as Herald sends it.
type Group struct {
	Schemas     []string `json:"schemas"`
	DisplayName string   `json:"displayName"`
	Members     []Member `json:"members"`
}

// Member is one member of a Group: the provider's id of a user.
type Member struct {
	Value string `json:"value"`
}

// userResource maps a user body to the User resource: externalID is
// Herald's id of the user (0: unknown, left out).
func userResource(b userBody, externalID int64, active bool) User {
	u := User{Schemas: []string{SchemaUser}, UserName: b.Username, Active: active}
	if externalID > 0 {
		u.ExternalID = strconv.FormatInt(externalID, 10)
	}
	if b.FirstName != "" || b.LastName != "" {
		u.Name = &Name{GivenName: b.FirstName, FamilyName: b.LastName}
	}
	if b.Email != "" {
		u.Emails = []Multi{{Value: b.Email, Type: "work", Primary: true}}
	}
	if b.Phone != "" {
		u.PhoneNumbers = []Multi{{Value: b.Phone, Type: "work"}}
	}
	return u
}

// groupResource maps a group to the Group resource with the given member
// ids (sorted, so that equal groups send equal bodies).
func groupResource(name string, memberIDs []string) Group {
	ids := slices.Clone(memberIDs)
	slices.Sort(ids)
	g := Group{Schemas: []string{SchemaGroup}, DisplayName: name, Members: []Member{}}
	for _, id := range slices.Compact(ids) {
		g.Members = append(g.Members, Member{Value: id})
	}
	return g
}

// remote is a resource as a provider returned it: what Herald compares.
type remote struct {
	ID          string `json:"id"`
	ExternalID  string `json:"externalId"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
	Name        struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails       []remoteMulti `json:"emails"`
	PhoneNumbers []remoteMulti `json:"phoneNumbers"`
	// Active is nil when the provider does not say (active, as RFC 7643
	// leaves it to the provider).
	Active  *bool    `json:"active"`
	Members []Member `json:"members"`
}

type remoteMulti struct {
	Value   string `json:"value"`
	Primary bool   `json:"primary"`
}

// primary is the primary value of a multi-valued attribute, else the first.
func primary(vs []remoteMulti) string {
	for _, v := range vs {
		if v.Primary {
			return v.Value
		}
	}
	if len(vs) > 0 {
		return vs[0].Value
	}
	return ""
}

// sameUser reports whether a provider's user r agrees with what Herald
// would send (want): the attributes Herald maps, the email without regard
// to case.
func sameUser(r remote, want User) bool {
	var given, family, email, phone string
	if want.Name != nil {
		given, family = want.Name.GivenName, want.Name.FamilyName
	}
	if len(want.Emails) > 0 {
		email = want.Emails[0].Value
	}
	if len(want.PhoneNumbers) > 0 {
		phone = want.PhoneNumbers[0].Value
	}
	active := r.Active == nil || *r.Active
	return strings.EqualFold(r.UserName, want.UserName) && r.Name.GivenName == given && r.Name.FamilyName == family &&
		strings.EqualFold(primary(r.Emails), email) && primary(r.PhoneNumbers) == phone &&
		active == want.Active && (want.ExternalID == "" || r.ExternalID == want.ExternalID)
}

// sameGroup reports whether a provider's group r agrees with want.
func sameGroup(r remote, want Group) bool {
	if r.DisplayName != want.DisplayName {
		return false
	}
	var got []string
	for _, m := range r.Members {
		got = append(got, m.Value)
	}
	slices.Sort(got)
	got = slices.Compact(got)
	var w []string
	for _, m := range want.Members {
		w = append(w, m.Value)
	}
	return slices.Equal(got, w)
}

// inScope reports whether a user in groups is provisioned to a target
// limited to only (none: every user).
func inScope(only, groups []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, g := range groups {
		if slices.Contains(only, g) {
			return true
		}
	}
	return false
}

// filterEq is the SCIM filter `attr eq "value"`, value quoted as a JSON
// string (RFC 7644 §3.4.2.2).
func filterEq(attr, value string) string {
	var q strings.Builder
	enc := json.NewEncoder(&q)
	enc.SetEscapeHTML(false) // & < > as they are: providers need not decode \u0026
	_ = enc.Encode(value)
	return attr + " eq " + strings.TrimSuffix(q.String(), "\n")
}
