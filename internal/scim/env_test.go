package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/scimtest"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

var ctx = context.Background()

// httpDoer sends over net/http on loopback, as the engine's Doer does
// over its client (internal/delivery tests that one).
type httpDoer struct{}

var errBlocked = errors.New("blocked by the egress policy")

func (httpDoer) Do(ctx context.Context, t scim.Target, req scim.Request) (scim.Response, error) {
	if strings.HasPrefix(req.URL, "http://blocked.invalid/") {
		return scim.Response{}, errBlocked
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return scim.Response{}, err
	}
	if t.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+t.Token)
	}
	hr.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return scim.Response{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return scim.Response{Status: resp.StatusCode, Body: body, RetryAfter: resp.Header.Get("Retry-After")}, nil
}

func (httpDoer) Blocked(err error) bool { return errors.Is(err, errBlocked) }

func (httpDoer) CallsOver() {}

// env is a provider, a database and a target pointing at the provider.
type env struct {
	t  *testing.T
	p  *scimtest.Provider
	db *store.DB
	tg scim.Target
}

// eachDB runs test on a fresh SQLite database and a fresh PostgreSQL
// one (skipped without a server, as the store's suite).
func eachDB(t *testing.T, test func(t *testing.T, db *store.DB)) {
	storetest.EachDSN(t, func(t *testing.T, dsn string) {
		test(t, storetest.OpenMigrated(t, dsn))
	})
}

func newEnv(t *testing.T, db *store.DB, mods ...func(*scim.Target)) *env {
	t.Helper()
	p := scimtest.New(t, "tok")
	hook := storetest.NewWebhook(t, db)
	tg := scim.Target{ID: hook.ID, BaseURL: p.URL, Token: "tok", Deprovision: scim.DeprovisionDelete}
	for _, m := range mods {
		m(&tg)
	}
	return &env{t: t, p: p, db: db, tg: tg}
}

// user creates a user in Herald's database and returns its body.
func (e *env) user(name string, groups ...string) []byte {
	e.t.Helper()
	storetest.CreateUser(e.t, e.db, name)
	return userBody(name, "First "+name, groups...)
}

// group creates a group in Herald's database and returns its id.
func (e *env) group(name string) int64 {
	e.t.Helper()
	var id int64
	storetest.Update(e.t, e.db, func(tx *store.Tx) (err error) { id, err = tx.CreateGroup(ctx, name, false); return err })
	return id
}

// renameGroup renames a group in Herald's database (the row only: no
// event).
func (e *env) renameGroup(from, to string) {
	e.t.Helper()
	storetest.Update(e.t, e.db, func(tx *store.Tx) error {
		id, err := tx.GroupIDByName(ctx, from)
		if err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, id); err != nil {
			return err
		}
		_, err = tx.CreateGroup(ctx, to, false)
		return err
	})
}

func userBody(name, first string, groups ...string) []byte {
	if groups == nil {
		groups = []string{}
	}
	b, _ := json.Marshal(map[string]any{"username": name, "first_name": first, "last_name": "Last",
		"email": name + "@example.com", "phone": "", "groups": groups, "is_admin": false,
		"ssh_key": "", "pgp_key": "", "pgp_cert_id": ""})
	return b
}

func groupBody(name string, members ...string) []byte {
	if members == nil {
		members = []string{}
	}
	b, _ := json.Marshal(herald.Group{Name: name, Members: members})
	return b
}

// apply applies a change and wants the verdict.
func (e *env) apply(typ, subject string, data, previous []byte, want scim.Verdict) scim.Result {
	e.t.Helper()
	r := scim.Apply(ctx, httpDoer{}, e.db, e.tg, scim.Change{Type: typ, Subject: subject, Data: data, Previous: previous})
	if r.Verdict != want {
		e.t.Fatalf("%s %s: verdict %v (%s), want %v; log:\n%s", typ, subject, r.Verdict, r.Error, want, r.Log)
	}
	return r
}

// remoteID is the id stored for a user or group ("" for none).
func (e *env) remoteID(kind, name string) string {
	e.t.Helper()
	id, _, err := e.db.RemoteID(ctx, e.tg.ID, kind, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) provided(name string) scimtest.Resource {
	e.t.Helper()
	u, ok := e.p.User(name)
	if !ok {
		e.t.Fatalf("the provider has no user %q; it has %v", name, e.p.Users())
	}
	return u
}
