package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request notes the pattern of the route it reached, even when its
// access is refused; one that reaches no route notes nothing.
func TestRouteNote(t *testing.T) {
	mux := http.NewServeMux()
	Mount(mux, []Route{
		{Pattern: "GET /open/{name}", Access: Anyone, Handle: func(w http.ResponseWriter, r *http.Request) error { return nil }},
		{Pattern: "GET /admin/{name}", Access: Admin, Handle: func(w http.ResponseWriter, r *http.Request) error { return nil }},
	}, func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(StatusOf(err)) })
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"/open/alice", "GET /open/{name}", http.StatusOK},
		{"/admin/alice", "GET /admin/{name}", http.StatusUnauthorized},
		{"/elsewhere", "", http.StatusNotFound},
	} {
		var pattern string
		r := httptest.NewRequest("GET", tc.path, nil)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r.WithContext(WithRouteNote(r.Context(), &pattern)))
		if pattern != tc.want || w.Code != tc.status {
			t.Errorf("GET %s noted %q with status %d, want %q and %d", tc.path, pattern, w.Code, tc.want, tc.status)
		}
	}
}
