// Package ui serves Herald's web UI: server-rendered pages (html/template,
// embedded in the binary) whose forms work without JavaScript. Form fields
// are named after the API's JSON fields. Every rule is the directory's; a
// page only shows what the directory answers. One file per area.
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
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
}

// New parses the templates once, at start-up.
func New(dir *directory.Service, log *slog.Logger) (*Handler, error) {
	h := &Handler{dir: dir, log: log, pages: map[string]*template.Template{}}
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
	"contains": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"join": strings.Join,
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

// Register adds the UI's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /static/", http.FileServerFS(staticFiles))
	mux.HandleFunc("GET /{$}", h.home)
	h.registerAuth(mux)
	h.registerUsers(mux)
	h.registerGroups(mux)
	h.registerWebhooks(mux)
	h.registerEvents(mux)
}

// page is what every template gets.
type page struct {
	Title  string
	Actor  directory.Actor
	Path   string
	Notice string // a short message after an action, from ?notice=
	Errors map[string]string
	Form   url.Values
	Data   any
}

// render writes a page with the layout.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := h.pages[name]
	if !ok {
		panic("ui: no template " + name)
	}
	p.Actor = directory.ActorFrom(r.Context())
	p.Path = r.URL.Path
	if p.Notice == "" {
		p.Notice = r.URL.Query().Get("notice")
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		h.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// fail shows the page an error calls for: the login page for a missing
// login, a 403 or 404 page, or a 500 page (logged) for anything else.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch herald.ErrorCode(err) {
	case herald.EUNAUTHORIZED:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	case herald.EFORBIDDEN:
		h.render(w, r, http.StatusForbidden, "error", page{Title: "Not allowed", Data: errorPage{
			Status: 403, Message: herald.ErrorMessage(err) + ". Ask an admin if you need this."}})
		return
	case herald.ENOTFOUND:
		h.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Data: errorPage{Status: 404, Message: herald.ErrorMessage(err)}})
		return
	case herald.EINVALID, herald.ECONFLICT:
		h.render(w, r, http.StatusBadRequest, "error", page{Title: "Cannot do that", Data: errorPage{Status: 400, Message: herald.ErrorMessage(err)}})
		return
	}
	h.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.render(w, r, http.StatusInternalServerError, "error", page{Title: "Something went wrong", Data: errorPage{
		Status: 500, Message: "Herald hit an internal error; the log has the details."}})
}

// fieldView is one labelled form field with its value and error.
type fieldView struct {
	Name, Label, Type, Value, Error string
}

type errorPage struct {
	Status  int
	Message string
}

// fieldErrors turns a validation error ("field: what is wrong") into a
// message next to that field when the form has it, or a general one.
func fieldErrors(err error, fields ...string) map[string]string {
	msg := herald.ErrorMessage(err)
	if field, rest, ok := strings.Cut(msg, ": "); ok {
		for _, f := range fields {
			if f == field {
				return map[string]string{field: rest}
			}
		}
	}
	return map[string]string{"_": msg}
}

// isFormError reports whether err is the user's to fix in the form.
func isFormError(err error) bool {
	switch herald.ErrorCode(err) {
	case herald.EINVALID, herald.ECONFLICT:
		return true
	}
	return false
}

// redirect sends the browser to path with a notice.
func redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		path += "?notice=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func actor(r *http.Request) directory.Actor { return directory.ActorFrom(r.Context()) }

// home sends admins to the users list and everyone else to their profile.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	a := actor(r)
	switch {
	case a.Username == "":
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case a.IsAdmin:
		http.Redirect(w, r, "/users", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/users/"+url.PathEscape(a.Username), http.StatusSeeOther)
	}
}
