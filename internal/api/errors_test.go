package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// TestErrorAnswers: each error becomes its status (internal/web's table)
// and {"msg": ...}; what is not a herald.Error shows no detail, and only
// server errors are logged, with their detail.
func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		msg        string
		retryAfter string
		logged     string // in the log line, "" for none
	}{
		{herald.Invalid("name", "is required"), 400, "name: is required", "", ""},
		{herald.Errorf(herald.EUNAUTHORIZED, "log in"), 401, "log in", "", ""},
		{herald.Errorf(herald.EFORBIDDEN, "admins only"), 403, "admins only", "", ""},
		{herald.FieldErrorf(herald.ENOTFOUND, "id", `"x" is not a valid id`), 404, `id: "x" is not a valid id`, "", ""},
		{herald.Errorf(herald.ECONFLICT, "taken"), 409, "taken", "", ""},
		{herald.Errorf(herald.ETOOLARGE, "too big"), 413, "too big", "", ""},
		{herald.Errorf(herald.EMEDIATYPE, "send JSON"), 415, "send JSON", "", ""},
		{herald.TooMany(2500*time.Millisecond, "slow down"), 429, "slow down", "3", ""},
		{herald.Errorf(herald.EUNAVAILABLE, "database away"), 503, "database away", "", "level=WARN"},
		{fmt.Errorf("update user: %w", herald.Invalid("email", "is not an address")), 400, "email: is not an address", "", ""},
		{errors.New("disk on fire at /var/lib/herald"), 500, "internal error", "", "disk on fire"},
		{herald.Errorf(herald.EINTERNAL, "bug"), 500, "bug", "", "level=ERROR"},
		{context.Canceled, 499, "internal error", "", ""},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		h := New(nil, slog.New(slog.NewTextHandler(&logs, nil)))
		w := httptest.NewRecorder()
		h.fail(w, httptest.NewRequest("GET", "/api/v1/x", nil), tt.err)
		var body struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%v: body %q is not JSON", tt.err, w.Body)
		}
		if w.Code != tt.status || body.Msg != tt.msg || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%v: %d %q Retry-After %q, want %d %q %q", tt.err, w.Code, body.Msg, w.Header().Get("Retry-After"), tt.status, tt.msg, tt.retryAfter)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%v: Content-Type %q", tt.err, ct)
		}
		if got := logs.String(); (tt.logged == "") != (got == "") || !strings.Contains(got, tt.logged) {
			t.Errorf("%v: logged %q, want a line with %q", tt.err, got, tt.logged)
		}
	}
}
