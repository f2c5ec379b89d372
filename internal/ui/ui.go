// Package ui serves Herald's web UI: server-rendered pages (html/template,
// embedded in the binary) whose forms work without JavaScript. Form fields
// are named after the API's JSON fields. Every route declares who may open
// it (internal/web checks that first); every rule is the directory's, and a
// page only shows what the directory answers. One file per area.
package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Handler serves the web UI.
type Handler struct {
	dir   *directory.Service
	log   *slog.Logger
	pages map[string]*template.Template
	// box seals flash notices (flash.go).
	box *secretbox.Box
}

// New parses the templates once, at start-up. box seals the notices shown
// after an action.
func New(dir *directory.Service, log *slog.Logger, box *secretbox.Box) (*Handler, error) {
	h := &Handler{dir: dir, log: log, box: box, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		h.pages[base] = t
	}
	return h, nil
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	// due is when a waiting delivery goes: its time, or "due now" for a
	// time passed.
	"due": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		if !t.After(time.Now()) {
			return "due now"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"contains": slices.Contains[[]string],
	"join":     strings.Join,
	"field": func(name, label, typ string, p page) fieldView {
		return fieldView{Name: name, Label: label, Type: typ, Value: p.Form.Get(name), Error: p.Errors[name]}
	},
	"pretty": func(b []byte) string {
		var out bytes.Buffer
		if err := jsonIndent(&out, b); err != nil {
			return string(b)
		}
		return out.String()
	},
}

// Routes returns every route of the UI, each with its access level.
func (h *Handler) Routes() []web.Route {
	var routes []web.Route
	for _, group := range [][]web.Route{
		{
			{Pattern: "GET /static/", Access: web.Anyone, Handle: serveStatic},
			{Pattern: "GET /{$}", Access: web.Anyone, Handle: h.home},
		},
		h.authRoutes(), h.userRoutes(), h.tokenRoutes(), h.groupRoutes(), h.webhookRoutes(), h.scimRoutes(), h.eventRoutes(), h.stationRoutes(),
	} {
		routes = append(routes, group...)
	}
	return routes
}

// Register adds the UI's routes to mux. A POST route's form is read (within
// its size cap) after its access check and before its handler.
func (h *Handler) Register(mux *http.ServeMux) {
	routes := h.Routes()
	for i, rt := range routes {
		if strings.HasPrefix(rt.Pattern, "POST ") {
			routes[i].Handle = withForm(rt.Handle)
		}
	}
	web.Mount(mux, routes, h.fail)
	// Every other path gets the styled 404 page (the API keeps /api/ for
	// its JSON one). It is no route: metrics count it as unmatched.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, notFound(r))
	})
}

// notFound is the error of a path that names no page, for the 404 page.
func notFound(r *http.Request) error {
	return herald.Errorf(herald.ENOTFOUND, "There is no page at %s", r.URL.Path)
}

var static = http.FileServerFS(staticFiles)

// serveStatic serves the embedded assets. A path that names no asset, or
// names a directory, gets the styled 404 page every other unknown path
// gets, rather than the file server's plain-text 404 or a listing of the
// assets.
func serveStatic(w http.ResponseWriter, r *http.Request) error {
	// The mux has cleaned the path; Clean again only to drop a trailing
	// slash (the file server redirects "file/" to "file"). fs.Stat refuses
	// a name that is not a valid fs path, such as one with "..".
	info, err := fs.Stat(staticFiles, strings.TrimPrefix(path.Clean(r.URL.Path), "/"))
	if err != nil || info.IsDir() {
		return notFound(r)
	}
	static.ServeHTTP(w, r)
	return nil
}

// withForm parses the request's form before next runs.
// Returns ETOOLARGE or EINVALID.
func withForm(next web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			var maxErr *http.MaxBytesError
			var netErr net.Error
			if errors.As(err, &maxErr) {
				return herald.Errorf(herald.ETOOLARGE, "the form is larger than %d bytes", maxErr.Limit)
			}
			if errors.As(err, &netErr) && netErr.Timeout() {
				return herald.Errorf(herald.EINVALID, "the form did not arrive in time")
			}
			return herald.Errorf(herald.EINVALID, "the form could not be read: %v", err)
		}
		return next(w, r)
	}
}

// page is what every template gets.
type page struct {
	// Title names the thing shown, then its section: "alice · Users".
	Title string
	// Section is the navigation entry marked current: Title's last part.
	Section string
	Actor   directory.Actor
	Path    string
	Notice  string // a short message after an action (a flash, never the URL)
	// NoticeFailed shows Notice as an error: the action ran but failed
	// (a test send the receiver refused).
	NoticeFailed bool
	Errors       map[string]string
	Form         url.Values
	Data         any
}

// render writes a page with the layout. It always returns nil: a template
// that fails is a bug, logged and answered 500 here.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) error {
	t, ok := h.pages[name]
	if !ok {
		panic("ui: no template " + name)
	}
	p.Actor = directory.ActorFrom(r.Context())
	p.Path = r.URL.Path
	if p.Section == "" {
		p.Section = p.Title
		if i := strings.LastIndex(p.Title, " · "); i >= 0 {
			p.Section = p.Title[i+len(" · "):]
		}
	}
	if p.Notice == "" {
		p.Notice, p.NoticeFailed = h.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// errorTitles are the headings of error pages by status.
var errorTitles = map[int]string{
	http.StatusBadRequest: "Cannot do that", http.StatusForbidden: "Not allowed", http.StatusNotFound: "Not found",
	http.StatusConflict: "Cannot do that", http.StatusRequestEntityTooLarge: "Too large",
	http.StatusUnsupportedMediaType: "Cannot do that", http.StatusTooManyRequests: "Slow down",
}

// fail is the UI's error writer (web.ErrorWriter), with the status of the
// shared table: a missing login shows the login form (401) to come back
// here after; a client error an error page saying what is wrong; anything
// else a 500 page, logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := web.ErrorStatus(w, err)
	msg := herald.ErrorMessage(err)
	switch {
	case status == http.StatusUnauthorized:
		next := ""
		if r.Method == http.MethodGet {
			next = r.URL.RequestURI()
		}
		_ = h.render(w, r, status, "login", page{Title: "Log in", Form: url.Values{"next": {next}}})
		return
	case status == http.StatusForbidden:
		msg += ". Ask an admin if you need this."
	case status >= 500:
		h.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
		status, msg = http.StatusInternalServerError, "Herald hit an internal error; the log has the details."
	}
	title := errorTitles[status]
	if title == "" {
		title = "Something went wrong"
	}
	_ = h.render(w, r, status, "error", page{Title: title, Section: "-", Data: errorPage{Status: status, Message: msg}})
}

// Fail answers r with the UI's error page for err (a 500 page for an
// internal error), for errors that arise outside the UI's routes, such as a
// panic recovered further out.
func (h *Handler) Fail(w http.ResponseWriter, r *http.Request, err error) { h.fail(w, r, err) }

// fieldView is one labelled form field with its value and error.
type fieldView struct {
	Name, Label, Type, Value, Error string
}

type errorPage struct {
	Status  int
	Message string
}

// fieldErrors places each validation error of err next to its field when
// the form has that field; the rest (and an error about no field) go at
// the top of the form.
func fieldErrors(err error, fields ...string) map[string]string {
	out := map[string]string{}
	var top []string
	for _, e := range herald.FieldErrors(err) {
		switch {
		case !slices.Contains(fields, e.Field):
			top = append(top, e.Error())
		case out[e.Field] != "":
			out[e.Field] += "; " + e.Message
		default:
			out[e.Field] = e.Message
		}
	}
	if len(out) == 0 && len(top) == 0 {
		top = append(top, herald.ErrorMessage(err))
	}
	if len(top) > 0 {
		out["_"] = strings.Join(top, "; ")
	}
	return out
}

// isFormError reports whether err is the user's to fix in the form.
func isFormError(err error) bool {
	switch herald.ErrorCode(err) {
	case herald.EINVALID, herald.ECONFLICT:
		return true
	}
	return false
}

// renderForm renders the page name that holds a form. With an err, it
// shows the form again with what the user typed and err beside its field,
// and the status is err's.
func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, name string, p page, err error, fields []string) error {
	if err == nil {
		return h.render(w, r, http.StatusOK, name, p)
	}
	p.Errors = fieldErrors(err, fields...)
	if p.Errors["_"] == "" {
		n := len(p.Errors)
		p.Errors["_"] = "Please correct the field marked below."
		if n > 1 {
			p.Errors["_"] = fmt.Sprintf("Please correct the %d fields marked below.", n)
		}
	}
	return h.render(w, r, web.StatusOf(err), name, p)
}

// afterForm ends a form's action: again shows the form once more beside a
// validation error; any other error goes to the error page; success
// redirects to path with notice.
func (h *Handler) afterForm(w http.ResponseWriter, r *http.Request, err error, again func(error) error, path, notice string) error {
	switch {
	case isFormError(err):
		return again(err)
	case err != nil:
		return err
	}
	return h.redirect(w, r, path, notice)
}

func actor(r *http.Request) directory.Actor { return directory.ActorFrom(r.Context()) }
