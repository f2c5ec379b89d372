package server

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/session"
	"github.com/heraldhq/herald/internal/web"
)

// authenticate resolves the request's actor from a bearer token or the
// session cookie. A bad bearer token is refused at once (the client meant
// to authenticate); a stale session cookie just means "anonymous", so the
// login call still works.
func authenticate(dir *directory.Service, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var bearer, token string
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, value, ok := strings.Cut(auth, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "" {
				api.WriteError(w, herald.Errorf(herald.EUNAUTHORIZED, "Authorization header must be \"Bearer <token>\""))
				return
			}
			bearer = strings.TrimSpace(value)
		} else {
			token = session.Token(r)
		}
		a, err := dir.Authenticate(r.Context(), token, bearer)
		if err != nil && (bearer != "" || herald.ErrorCode(err) != herald.EUNAUTHORIZED) {
			if web.StatusOf(err) >= 500 {
				log.Error("authenticate", "err", err)
			}
			api.WriteError(w, err)
			return
		}
		a.Client = web.ClientOf(r).Addr
		next.ServeHTTP(w, r.WithContext(directory.WithActor(r.Context(), a)))
	})
}

// statusRecorder remembers the status a handler wrote, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests gives each request an id (echoed as X-Request-Id) and logs
// one line when it ends. Only the path is logged: query strings and bodies
// may carry secrets.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := rand.Text()[:12]
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		log.Info("request", "id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds(), "client", web.ClientOf(r).Addr)
	})
}

// recoverPanics turns a panic into a 500 and a log line with the stack. The
// 500 is the API's JSON error under /api/ and the page written by pageFail
// (the UI's styled error page) for every other path, which a browser shows.
func recoverPanics(log *slog.Logger, pageFail web.ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				err := herald.Errorf(herald.EINTERNAL, "internal error")
				if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
					api.WriteError(w, err)
					return
				}
				pageFail(w, r, err)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// resolveClient works out who sent the request (its address and whether
// it came over https, believing forwarding headers only from trusted
// proxies) once, for every later step.
func resolveClient(edge web.Edge, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(web.WithClient(r.Context(), edge.Resolve(r))))
	})
}

// contentSecurityPolicy lets pages load scripts, styles and images from
// Herald only (no inline script or style), post forms only to Herald, and
// be framed by no one.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers browsers act on, on every answer: the
// content security policy, no framing, no content sniffing, referrers
// only to Herald itself, and HSTS when the client reaches Herald over
// https.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if web.ClientOf(r).Secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
