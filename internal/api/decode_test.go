package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// TestDecodeContentType: a body is JSON unless the client says otherwise;
// parameters such as charset are fine, another media type is a 415.
func TestDecodeContentType(t *testing.T) {
	tests := []struct {
		contentType string
		code        string // "" for none
	}{
		{"", ""},
		{"application/json", ""},
		{"application/json; charset=utf-8", ""},
		{"Application/JSON", ""},
		{"text/plain", herald.EMEDIATYPE},
		{"application/json-patch+json", herald.EMEDIATYPE},
		{"application/x-www-form-urlencoded", herald.EMEDIATYPE},
		{"application/json; charset", herald.EMEDIATYPE},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"g"}`))
		if tt.contentType != "" {
			r.Header.Set("Content-Type", tt.contentType)
		}
		var dst struct {
			Name string `json:"name"`
		}
		err := decode(r, &dst)
		if got := codeOf(err); got != tt.code {
			t.Errorf("Content-Type %q: %v, want code %q", tt.contentType, err, tt.code)
		}
		if err == nil && dst.Name != "g" {
			t.Errorf("Content-Type %q: decoded %+v", tt.contentType, dst)
		}
	}
}

// TestQueryInt: an optional integer query parameter: its default when
// absent, an EINVALID naming it when not an integer of at least lo, and
// capped at hi.
func TestQueryInt(t *testing.T) {
	tests := []struct {
		query string
		want  int64
		bad   bool
	}{
		{"", 100, false},
		{"limit=", 100, false},
		{"limit=1", 1, false},
		{"limit=999", 999, false},
		{"limit=1000", 1000, false},
		{"limit=5000", 1000, false},
		{"limit=0", 0, true},
		{"limit=-1", 0, true},
		{"limit=ten", 0, true},
		{"limit=1.5", 0, true},
		{"limit=99999999999999999999", 0, true},
		{"other=5", 100, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/x?"+tt.query, nil)
		got, err := queryInt(r, "limit", 100, 1, 1000)
		if tt.bad {
			if herald.ErrorCode(err) != herald.EINVALID || herald.ErrorField(err) != "limit" || !strings.Contains(err.Error(), "at least 1") {
				t.Errorf("?%s: %d, %v; want EINVALID about limit", tt.query, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("?%s: %d, %v; want %d", tt.query, got, err, tt.want)
		}
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return herald.ErrorCode(err)
}
