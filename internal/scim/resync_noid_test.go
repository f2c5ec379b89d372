package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// A provider that lists a user without an id (it cannot be addressed by
// PUT or DELETE) gets that user treated as not listed: the resync
// finishes, adopts nothing for it, queues its creation (which looks it
// up again first), and adopts the users that have ids.
func TestResyncSkipsResourcesWithoutID(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/scim+json")
			if r.URL.Path != "/scim/v2/Users" || r.URL.Query().Get("startIndex") != "1" {
				fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`)
				return
			}
			fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,
				"startIndex":1,"itemsPerPage":2,"Resources":[{"userName":"ann"},{"id":"u-2","userName":"bea"}]}`)
		}))
		t.Cleanup(srv.Close)
		hook := storetest.NewWebhook(t, db)
		tg := scim.Target{ID: hook.ID, BaseURL: srv.URL + "/scim/v2", Deprovision: scim.DeprovisionDeactivate}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		local := scim.Local{Users: []scim.LocalResource{
			{Name: "ann", Data: []byte(`{"username":"ann","email":"ann@example.com"}`)},
			{Name: "bea", Data: []byte(`{"username":"bea","email":"bea@example.com"}`)},
		}}
		rep, changes, err := scim.Resync(ctx, httpDoer{}, db, tg, local)
		if err != nil || rep.Error != "" {
			t.Fatalf("resync: %v, report error %q", err, rep.Error)
		}
		if rep.Users.Adopted != 1 || rep.Users.Created != 1 {
			t.Errorf("users: %+v; want bea adopted and ann to be created", rep.Users)
		}
		if id, ok, _ := db.RemoteID(ctx, hook.ID, scim.KindUser, "bea"); id != "u-2" || !ok {
			t.Errorf("bea's id = %q, %v; want u-2", id, ok)
		}
		if _, ok, _ := db.RemoteID(ctx, hook.ID, scim.KindUser, "ann"); ok {
			t.Error("ann has an id, from a resource that had none")
		}
		subjects := map[string]bool{}
		for _, c := range changes {
			subjects[c.Subject] = true
		}
		if !subjects["user:ann"] {
			t.Errorf("changes %v: want one for user:ann", changes)
		}
	})
}
