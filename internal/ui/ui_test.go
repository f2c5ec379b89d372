package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/secretbox"
)

// The Content-Security-Policy allows no inline script or style: templates
// load both from /static only.
func TestTemplatesHaveNoInlineScriptOrStyle(t *testing.T) {
	script := regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`)
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<style[\s>]`),
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`\son[a-z]+\s*=`), // onclick=, onchange=, ...
		regexp.MustCompile(`(?i)javascript:`),
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil || len(names) == 0 {
		t.Fatalf("templates: %v %v", names, err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(templateFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		tags := script.FindAllSubmatch(b, -1)
		if len(tags) != strings.Count(string(b), "<script") {
			t.Errorf("%s: a script element that is not <script src=...></script>", name)
		}
		for _, m := range tags {
			if !strings.Contains(string(m[1]), `src="/static/`) || strings.TrimSpace(string(m[2])) != "" {
				t.Errorf("%s: inline script %q", name, m[0])
			}
		}
		for _, re := range inline {
			if m := re.Find(b); m != nil {
				t.Errorf("%s: inline script or style %q", name, m)
			}
		}
	}
}

func TestFieldErrors(t *testing.T) {
	fields := []string{"url", "description"}
	tests := []struct {
		err  error
		want map[string]string
	}{
		{herald.Invalid("url", "must be an absolute URL"), map[string]string{"url": "must be an absolute URL"}},
		{herald.FieldErrorf(herald.ECONFLICT, "description", "is taken"), map[string]string{"description": "is taken"}},
		// A field the form does not have: at the top, with its name.
		{herald.Invalid("token", "is too long"), map[string]string{"_": "token: is too long"}},
		{herald.Errorf(herald.EINVALID, "url: looks like a field but is not one"), map[string]string{"_": "url: looks like a field but is not one"}},
		// Several at once: each beside its field, the unknown one on top.
		{herald.Errors{herald.Invalid("url", "is required"), herald.Invalid("description", "is required"), herald.Invalid("token", "is too long")},
			map[string]string{"url": "is required", "description": "is required", "_": "token: is too long"}},
		{herald.Errors{herald.Invalid("url", "is required"), herald.Invalid("url", "is odd")}, map[string]string{"url": "is required; is odd"}},
	}
	for _, tt := range tests {
		got := fieldErrors(tt.err, fields...)
		if len(got) != len(tt.want) {
			t.Errorf("fieldErrors(%v) = %v, want %v", tt.err, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("fieldErrors(%v) = %v, want %v", tt.err, got, tt.want)
			}
		}
	}
}

// A flash set by redirect shows once on the next page; a cookie that was
// not sealed by Herald, or sealed for something else, shows nothing.
func TestFlash(t *testing.T) {
	box, err := secretbox.New("a test key of enough length")
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{box: box}
	w := httptest.NewRecorder()
	_ = h.redirect(w, httptest.NewRequest("POST", "/groups/new", nil), "/groups", "Group devs created.")
	if loc := w.Header().Get("Location"); loc != "/groups" {
		t.Fatalf("Location %q", loc)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != flashCookie || strings.Contains(cookies[0].Value, "devs") || !cookies[0].HttpOnly {
		t.Fatalf("cookies %+v", cookies)
	}
	take := func(value string) (string, []*http.Cookie) {
		r := httptest.NewRequest("GET", "/groups", nil)
		r.AddCookie(&http.Cookie{Name: flashCookie, Value: value})
		w := httptest.NewRecorder()
		notice, _ := h.takeFlash(w, r)
		return notice, w.Result().Cookies()
	}
	notice, cleared := take(cookies[0].Value)
	if notice != "Group devs created." || len(cleared) != 1 || cleared[0].MaxAge >= 0 {
		t.Errorf("takeFlash = %q, cookies %+v; want the notice, and the cookie cleared", notice, cleared)
	}
	for _, forged := range []string{"Group devs created.", "v1:AAAA", box.Seal("Herald moved to evil.example"), box.Seal("webhook|9999999999|x")} {
		if notice, _ := take(forged); notice != "" {
			t.Errorf("takeFlash(%q) = %q, want nothing", forged, notice)
		}
	}
	if notice, _ := take(box.Seal("flash|1|an old notice")); notice != "" {
		t.Errorf("an expired flash shows %q", notice)
	}
	// A failure's notice is marked as one.
	w = httptest.NewRecorder()
	_ = h.redirectFailed(w, httptest.NewRequest("POST", "/webhooks/1/test", nil), "/webhooks/1", "Test failed.")
	r := httptest.NewRequest("GET", "/webhooks/1", nil)
	r.AddCookie(w.Result().Cookies()[0])
	if notice, failed := h.takeFlash(httptest.NewRecorder(), r); notice != "Test failed." || !failed {
		t.Errorf("failure flash = %q, %v", notice, failed)
	}
}
