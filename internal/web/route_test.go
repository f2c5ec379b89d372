package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

func TestAccessCheck(t *testing.T) {
	var (
		anon    = directory.Actor{}
		alice   = directory.Actor{UserID: 2, Username: "alice"}
		admin   = directory.Actor{UserID: 1, Username: "admin", IsAdmin: true}
		station = directory.Actor{Station: "station1"}
	)
	const ok = ""
	tests := []struct {
		access Access
		want   map[string]string // actor -> error code
	}{
		{Anyone, map[string]string{"anon": ok, "alice": ok, "admin": ok, "station": ok}},
		{AnyUser, map[string]string{"anon": herald.EUNAUTHORIZED, "alice": ok, "admin": ok, "station": herald.EFORBIDDEN}},
		{Admin, map[string]string{"anon": herald.EUNAUTHORIZED, "alice": herald.EFORBIDDEN, "admin": ok, "station": herald.EFORBIDDEN}},
		// The request's path names alice.
		{SelfOrAdmin("username"), map[string]string{"anon": herald.EUNAUTHORIZED, "alice": ok, "admin": ok, "station": herald.EFORBIDDEN}},
		{Station, map[string]string{"anon": herald.EUNAUTHORIZED, "alice": herald.EFORBIDDEN, "admin": herald.EFORBIDDEN, "station": ok}},
		{Access{}, map[string]string{"anon": herald.EINTERNAL, "alice": herald.EINTERNAL, "admin": herald.EINTERNAL, "station": herald.EINTERNAL}},
	}
	actors := map[string]directory.Actor{"anon": anon, "alice": alice, "admin": admin, "station": station}
	r := httptest.NewRequest("GET", "/users/alice", nil)
	r.SetPathValue("username", "alice")
	bob := httptest.NewRequest("GET", "/users/bob", nil)
	bob.SetPathValue("username", "bob")
	for _, tt := range tests {
		for name, a := range actors {
			err := tt.access.Check(a, r)
			got := ok
			if err != nil {
				got = herald.ErrorCode(err)
			}
			if got != tt.want[name] {
				t.Errorf("%s.Check(%s) = %q (%v), want %q", tt.access, name, got, err, tt.want[name])
			}
		}
	}
	if err := SelfOrAdmin("username").Check(alice, bob); herald.ErrorCode(err) != herald.EFORBIDDEN {
		t.Errorf("alice on bob's path: %v, want EFORBIDDEN", err)
	}
}

// Mount checks access before the handler runs, caps the body, and passes
// the handler's error to the error writer.
func TestMount(t *testing.T) {
	var ran bool
	var failed error
	mux := http.NewServeMux()
	Mount(mux, []Route{
		{Pattern: "POST /admin", Access: Admin, Handle: func(w http.ResponseWriter, r *http.Request) error {
			ran = true
			return nil
		}},
		{Pattern: "POST /read", Access: Anyone, MaxBody: 10, Handle: func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.ReadAll(r.Body)
			return err
		}},
		{Pattern: "GET /fail", Access: Anyone, Handle: func(w http.ResponseWriter, r *http.Request) error {
			return herald.Errorf(herald.ECONFLICT, "no")
		}},
	}, func(w http.ResponseWriter, r *http.Request, err error) {
		failed = err
		w.WriteHeader(ErrorStatus(w, err))
	})
	serve := func(method, path, body string, a directory.Actor) int {
		ran, failed = false, nil
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r = r.WithContext(directory.WithActor(r.Context(), a))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	if code := serve("POST", "/admin", "{}", directory.Actor{}); code != http.StatusUnauthorized || ran {
		t.Errorf("anonymous on an admin route: %d, handler ran: %v", code, ran)
	}
	if code := serve("POST", "/admin", "{}", directory.Actor{UserID: 1, IsAdmin: true}); code != http.StatusOK || !ran {
		t.Errorf("admin on an admin route: %d, handler ran: %v", code, ran)
	}
	if code := serve("POST", "/read", strings.Repeat("x", 11), directory.Actor{}); code != http.StatusInternalServerError || failed == nil {
		t.Errorf("a body over MaxBody: %d, %v (the handler's read error goes to the error writer)", code, failed)
	}
	if code := serve("GET", "/fail", "", directory.Actor{}); code != http.StatusConflict {
		t.Errorf("a handler's error: %d, want 409", code)
	}

	defer func() {
		if recover() == nil {
			t.Error("Mount accepted a route without an access level")
		}
	}()
	Mount(http.NewServeMux(), []Route{{Pattern: "GET /x", Handle: func(http.ResponseWriter, *http.Request) error { return nil }}}, nil)
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		retryAfter string
	}{
		{herald.Invalid("name", "is required"), 400, ""},
		{herald.Errorf(herald.EUNAUTHORIZED, "log in"), 401, ""},
		{herald.Errorf(herald.EMEDIATYPE, "json"), 415, ""},
		{herald.TooMany(1500*time.Millisecond, "slow down"), 429, "2"},
		{herald.TooMany(10*time.Millisecond, "slow down"), 429, "1"},
		{herald.TooMany(15*time.Minute, "slow down"), 429, "900"},
		{errors.New("a bug"), 500, ""},
		// The client went away (its request's context ended): not a
		// server error, so not logged as one.
		{context.Canceled, StatusClientGone, ""},
		{fmt.Errorf("count a login: %w", context.Canceled), StatusClientGone, ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		if got := ErrorStatus(w, tt.err); got != tt.status || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("ErrorStatus(%v) = %d, Retry-After %q; want %d, %q", tt.err, got, w.Header().Get("Retry-After"), tt.status, tt.retryAfter)
		}
	}
	if StatusClientGone >= 500 {
		t.Errorf("StatusClientGone = %d: the error writers log 5xx as errors", StatusClientGone)
	}
}

func TestPathID(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  int64
	}{{"1", 1}, {"42", 42}, {"0", 0}, {"-3", 0}, {"abc", 0}, {"", 0}, {"99999999999999999999", 0}} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.SetPathValue("id", tt.value)
		got, err := PathID(r, "id")
		if got != tt.want || (tt.want == 0) != (herald.ErrorCode(err) == herald.ENOTFOUND) {
			t.Errorf("PathID(%q) = %d, %v", tt.value, got, err)
		}
		if err != nil && (herald.ErrorField(err) != "id" || err.Error() != "id: "+`"`+tt.value+`" is not a valid id`) {
			t.Errorf("PathID(%q) error %q (field %q)", tt.value, err, herald.ErrorField(err))
		}
	}
}
