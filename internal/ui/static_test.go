package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Real assets are served with their content type; an unknown asset, and
// any directory of the assets, get the styled 404 page that any other
// unknown path gets, never the file server's plain text or a listing.
func TestStatic(t *testing.T) {
	h, err := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	// The page an unknown path outside /static/ gets, to compare with.
	styled := get("/no-such-page")
	if styled.Code != http.StatusNotFound || !strings.Contains(styled.Body.String(), "<title>Not found · Herald</title>") {
		t.Fatalf("GET /no-such-page: %d\n%s", styled.Code, styled.Body)
	}

	tests := []struct {
		path        string
		status      int
		contentType string // its prefix
		body        string // a part of the body
	}{
		{"/static/herald.css", http.StatusOK, "text/css", ""},
		{"/static/herald.js", http.StatusOK, "text/javascript", ""},
		{"/static/nope.css", http.StatusNotFound, "text/html", `<p id="error-message">There is no page at /static/nope.css</p>`},
		{"/static/", http.StatusNotFound, "text/html", `<p id="error-message">There is no page at /static/</p>`},
		{"/static/herald.css/x", http.StatusNotFound, "text/html", "<title>Not found · Herald</title>"},
	}
	for _, tt := range tests {
		w := get(tt.path)
		body := w.Body.String()
		if w.Code != tt.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tt.contentType) || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s: %d %q, want %d %s with %q\n%s", tt.path, w.Code, w.Header().Get("Content-Type"), tt.status, tt.contentType, tt.body, body)
		}
		if tt.status == http.StatusNotFound {
			if !strings.Contains(body, "<title>Not found · Herald</title>") || strings.Contains(body, "herald.css</a>") {
				t.Errorf("GET %s is not the styled 404 page:\n%s", tt.path, body)
			}
			continue
		}
		want, err := staticFiles.ReadFile(strings.TrimPrefix(tt.path, "/"))
		if err != nil || body != string(want) {
			t.Errorf("GET %s: the body is not the asset (%v)", tt.path, err)
		}
	}
}
