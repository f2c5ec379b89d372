// Package scimtest is an in-memory SCIM 2.0 service provider (RFC
// 7643/7644) for tests, built on github.com/elimity-com/scim and served
// over HTTP on loopback. It has Users and Groups, answers the filters
// `userName eq "x"` and `displayName eq "x"`, pages lists, takes PUT,
// PATCH and DELETE, refuses a second user with the same userName (409
// uniqueness), and checks a bearer token.
//
// Knobs for tests: FailNext and FailFor make it answer with an error
// status; Lose drops every resource, as a provider that lost its data;
// PageSize shortens pages; Requests and Calls tell what Herald asked;
// AddUser and AddGroup seed resources Herald did not make.
//
//	p := scimtest.New(t, "secret")
//	// point a SCIM target at p.URL with token "secret", provision ...
//	u, ok := p.User("alice") // u.ID, u.String("externalId"), u.Active()
package scimtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
)

// Provider is a running SCIM service provider. Its methods are safe to
// call while Herald sends to it.
type Provider struct {
	// URL is the base URL to give a SCIM target, e.g.
	// http://127.0.0.1:40123/scim/v2.
	URL string
	// Token is the bearer token every request must carry ("": none).
	Token string

	mu         sync.Mutex
	users      *resources
	groups     *resources
	server     http.Handler
	failN      int // answer the next failN requests with failStatus
	failUntil  time.Time
	failStatus int
	retryAfter string
	calls      []string
}

// New starts a provider on loopback that requires token (none if ""),
// and stops it when the test ends.
func New(t testing.TB, token string) *Provider {
	t.Helper()
	p := &Provider{Token: token}
	p.users = &resources{p: p, prefix: "u", unique: "userName"}
	p.groups = &resources{p: p, prefix: "g"}
	p.users.reset()
	p.groups.reset()
	p.PageSize(100)
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/scim/v2"
	return p
}

// PageSize sets the most resources a list answers with (100 at first).
func (p *Provider) PageSize(n int) {
	args := &scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: n, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []scim.ResourceType{
			{Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(), Handler: p.users},
			{Name: "Group", Endpoint: "/Groups", Schema: schema.CoreGroupSchema(), Handler: p.groups},
		},
	}
	s, err := scim.NewServer(args)
	if err != nil {
		panic("scimtest: " + err.Error()) // the arguments are fixed
	}
	p.mu.Lock()
	p.server = s
	p.mu.Unlock()
}

// failTypes are the scimType of the failures FailNext and FailFor answer
// with, as a provider would give them (RFC 7644 §3.12).
var failTypes = map[int]scimerrors.ScimType{
	http.StatusBadRequest: scimerrors.ScimTypeInvalidValue,
	http.StatusConflict:   scimerrors.ScimTypeUniqueness,
}

// FailNext makes the next n requests fail with status (e.g. 500, 503),
// an RFC 7644 error body (a 400 says scimType invalidValue, a 409
// uniqueness).
func (p *Provider) FailNext(n, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failN, p.failStatus = n, status
}

// FailFor makes every request for d from now fail with status.
func (p *Provider) FailFor(d time.Duration, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failUntil, p.failStatus = time.Now().Add(d), status
}

// RetryAfter sets the Retry-After header failures with 429 or 503 carry
// ("" for none).
func (p *Provider) RetryAfter(v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retryAfter = v
}

// Lose drops every user and group: the provider lost its data. Ids
// Herald stored now answer 404.
func (p *Provider) Lose() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users.reset()
	p.groups.reset()
}

// Requests returns how many requests the provider got (refused ones too).
func (p *Provider) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// Calls returns every request so far as "METHOD /path?query", the path
// relative to URL (e.g. "POST /Users").
func (p *Provider) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// serve checks the token, applies the failure knobs, and hands the
// request to the SCIM server.
func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	call := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/scim/v2")
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	p.calls = append(p.calls, call)
	status := 0
	switch {
	case p.Token != "" && r.Header.Get("Authorization") != "Bearer "+p.Token:
		status = http.StatusUnauthorized
	case p.failN > 0:
		p.failN--
		status = p.failStatus
	case time.Now().Before(p.failUntil):
		status = p.failStatus
	}
	retryAfter, server := p.retryAfter, p.server
	p.mu.Unlock()
	if status != 0 {
		w.Header().Set("Content-Type", "application/scim+json")
		if retryAfter != "" && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(scimerrors.ScimError{Status: status, ScimType: failTypes[status], Detail: "scimtest: " + http.StatusText(status)})
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/scim/v2") {
		http.NotFound(w, r)
		return
	}
	http.StripPrefix("/scim", server).ServeHTTP(w, r)
}

// Resource is a user or group as the provider keeps it.
type Resource struct {
	ID string
	// Attributes as stored, by their schema names (userName, name,
	// emails, active, externalId, displayName, members, ...).
	Attributes map[string]any
}

// String returns a string attribute ("" if absent).
func (r Resource) String(attr string) string {
	s, _ := r.Attributes[attr].(string)
	return s
}

// Active reports whether a user is active: true unless active is false.
func (r Resource) Active() bool {
	b, ok := r.Attributes["active"].(bool)
	return !ok || b
}

// Sub returns a sub-attribute of a complex attribute (name.givenName),
// or of the primary (else first) value of a multi-valued one
// (emails.value).
func (r Resource) Sub(attr, sub string) string {
	switch v := r.Attributes[attr].(type) {
	case map[string]any:
		s, _ := v[sub].(string)
		return s
	case []any:
		var first map[string]any
		for _, e := range v {
			m, _ := e.(map[string]any)
			if first == nil {
				first = m
			}
			if p, _ := m["primary"].(bool); p {
				first = m
				break
			}
		}
		s, _ := first[sub].(string)
		return s
	}
	return ""
}

// Members returns a group's member ids, sorted.
func (r Resource) Members() []string {
	var ids []string
	list, _ := r.Attributes["members"].([]any)
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			if id, ok := mm["value"].(string); ok {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// Users returns every user, sorted by userName.
func (p *Provider) Users() []Resource { return p.users.all("userName") }

// Groups returns every group, sorted by displayName.
func (p *Provider) Groups() []Resource { return p.groups.all("displayName") }

// User returns the user with that userName (any case).
func (p *Provider) User(userName string) (Resource, bool) { return p.users.named("userName", userName) }

// Group returns the group with that displayName.
func (p *Provider) Group(displayName string) (Resource, bool) {
	return p.groups.named("displayName", displayName)
}

// AddUser stores a user Herald did not make (attrs by schema name; set
// userName) and returns its id.
func (p *Provider) AddUser(attrs map[string]any) string { return p.users.add(attrs) }

// AddGroup stores a group Herald did not make (set displayName) and
// returns its id.
func (p *Provider) AddGroup(attrs map[string]any) string { return p.groups.add(attrs) }

func (rs *resources) all(sortBy string) []Resource {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	var out []Resource
	for id, a := range rs.data {
		out = append(out, Resource{ID: id, Attributes: copyAttrs(a)})
	}
	slices.SortFunc(out, func(a, b Resource) int { return cmp.Compare(a.String(sortBy), b.String(sortBy)) })
	return out
}

func (rs *resources) named(attr, value string) (Resource, bool) {
	for _, r := range rs.all(attr) {
		if strings.EqualFold(r.String(attr), value) {
			return r, true
		}
	}
	return Resource{}, false
}

func (rs *resources) add(attrs map[string]any) string {
	rs.p.mu.Lock()
	defer rs.p.mu.Unlock()
	rs.next++
	id := fmt.Sprintf("%s-%d", rs.prefix, rs.next)
	rs.data[id], rs.seq[id] = copyAttrs(attrs), rs.next
	return id
}
