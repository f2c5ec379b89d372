package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald"
)

// TestWithID: the one path-id helper of the API and the UI. A route
// mounted with WithID hands its handler the parsed id, and answers 404
// naming the parameter, without calling the handler, when the path holds
// no id.
func TestWithID(t *testing.T) {
	var got int64
	calls := 0
	mux := http.NewServeMux()
	Mount(mux, []Route{{Pattern: "GET /thing/{tid}", Access: Anyone, Handle: WithID("tid", func(w http.ResponseWriter, r *http.Request, id int64) error {
		got, calls = id, calls+1
		return nil
	})}}, func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, herald.ErrorField(err)+" "+herald.ErrorCode(err), StatusOf(err))
	})
	tests := []struct {
		path   string
		status int
		id     int64 // passed to the handler; 0: not called
	}{
		{"/thing/1", 200, 1},
		{"/thing/9223372036854775807", 200, 9223372036854775807},
		{"/thing/007", 200, 7},
		{"/thing/0", 404, 0},
		{"/thing/-2", 404, 0},
		{"/thing/2x", 404, 0},
		{"/thing/9223372036854775808", 404, 0},
		{"/thing/%20", 404, 0},
	}
	for _, tt := range tests {
		got, calls = 0, 0
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		if w.Code != tt.status || got != tt.id || (tt.id == 0) != (calls == 0) {
			t.Errorf("GET %s: %d, handler got %d (%d calls); want %d, %d", tt.path, w.Code, got, calls, tt.status, tt.id)
		}
		if tt.status == 404 && w.Body.String() != "tid not_found\n" {
			t.Errorf("GET %s: answered %q, want the parameter named", tt.path, w.Body)
		}
	}
}
