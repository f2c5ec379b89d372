package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/storetest"
)

// A provider that ignores startIndex and claims a huge totalResults (a
// bug seen in the wild) answers the same page forever: a resync stops at
// the first page that lists nothing new, says why, and queues nothing,
// instead of asking millions of times.
func TestResyncStopsOnRepeatedPages(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		var requests atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.Header().Set("Content-Type", "application/scim+json")
			fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1000000000,
				"startIndex":1,"itemsPerPage":2,"Resources":[{"id":"a","userName":"a"},{"id":"b","userName":"b"}]}`)
		}))
		t.Cleanup(srv.Close)
		hook := storetest.NewWebhook(t, db)
		tg := scim.Target{ID: hook.ID, BaseURL: srv.URL + "/scim/v2", Deprovision: scim.DeprovisionDeactivate}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		rep, changes, err := scim.Resync(ctx, httpDoer{}, db, tg, scim.Local{})
		if err != nil {
			t.Fatal(err)
		}
		if n := requests.Load(); n > 3 {
			t.Errorf("the resync asked %d times for the same page", n)
		}
		if !strings.Contains(rep.Error, "startIndex") || changes != nil {
			t.Errorf("report %+v, changes %v: want an error about startIndex and no changes", rep, changes)
		}
	})
}
