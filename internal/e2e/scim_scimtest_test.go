package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/scimtest"
)

// goSCIMProvider is internal/scimtest's provider, in the test process.
type goSCIMProvider struct{ p *scimtest.Provider }

func newGoSCIMProvider(t *testing.T) scimProvider {
	t.Helper()
	return goSCIMProvider{scimtest.New(t, "scimtest-token")}
}

func (g goSCIMProvider) baseURL() string { return g.p.URL }
func (g goSCIMProvider) token() string   { return g.p.Token }

// state reads the provider's resources into the shape SCIM gives them
// (the attributes by their schema names, and the id).
func (g goSCIMProvider) state(t *testing.T) scimState {
	t.Helper()
	var s scimState
	for _, r := range g.p.Users() {
		var u scimUser
		scimDecode(t, r, &u)
		s.Users = append(s.Users, u)
	}
	for _, r := range g.p.Groups() {
		var gr scimGroup
		scimDecode(t, r, &gr)
		s.Groups = append(s.Groups, gr)
	}
	return s
}

func scimDecode(t *testing.T, r scimtest.Resource, out any) {
	t.Helper()
	attrs := map[string]any{}
	for k, v := range r.Attributes {
		attrs[k] = v
	}
	attrs["id"] = r.ID
	data, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("scimtest resource %s: %v", data, err)
	}
}

func (g goSCIMProvider) setFailing(t *testing.T, on bool) {
	if on {
		g.p.FailFor(time.Hour, http.StatusInternalServerError)
	} else {
		g.p.FailFor(0, http.StatusInternalServerError)
	}
}

func (g goSCIMProvider) reset(t *testing.T) { g.p.Lose() }

func (g goSCIMProvider) calls(t *testing.T) []string { return g.p.Calls() }
