// Package web is the HTTP plumbing the JSON API (internal/api) and the web
// UI (internal/ui) share: routes that declare who may call them, the one
// wrapper that checks that before a handler runs, the table that turns
// errors into statuses, path parameters, and what is known of the client
// (its address and scheme behind trusted proxies).
package web

import (
	"fmt"
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

// DefaultMaxBody bounds a request body unless a route says otherwise.
const DefaultMaxBody = 1 << 20

// HandlerFunc serves a request and returns an error instead of writing
// one: the route's ErrorWriter answers with it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorWriter answers a request with err: the API as JSON, the UI as a page.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Route is one endpoint: its ServeMux pattern, who may call it, and the
// handler.
type Route struct {
	Pattern string // "METHOD /path/{param}", as for http.ServeMux
	Access  Access
	Handle  HandlerFunc
	// MaxBody bounds the request body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
}

// Mount registers routes on mux. Each request is first checked against its
// route's Access, with the actor the authentication middleware found and
// the path parameters only: a caller without rights is answered 401 or 403
// before the body or the query is read. Then the body is capped and the
// handler runs; an error it returns goes to fail. Each request notes its
// route's pattern for the metrics (WithRouteNote). Mount panics on a route
// that declares no access, so none can be forgotten.
func Mount(mux *http.ServeMux, routes []Route, fail ErrorWriter) {
	for _, rt := range routes {
		if rt.Access.level == 0 {
			panic(fmt.Sprintf("web: route %q declares no access", rt.Pattern))
		}
		mux.Handle(rt.Pattern, rt.handler(fail))
	}
}

func (rt Route) handler(fail ErrorWriter) http.Handler {
	limit := rt.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRoute(r, rt.Pattern)
		if err := rt.Access.Check(directory.ActorFrom(r.Context()), r); err != nil {
			fail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := rt.Handle(w, r); err != nil {
			fail(w, r, err)
		}
	})
}

// Access says who may call a route.
type Access struct {
	level level
	param string // selfOrAdmin: the path parameter naming the user
}

type level int

const (
	anyone level = iota + 1
	anyUser
	admin
	selfOrAdmin
	station
)

// The access levels.
var (
	// Anyone may call the route, logged in or not (logging in, the health
	// check, sshd's authorized keys).
	Anyone = Access{level: anyone}
	// AnyUser is any logged-in user, admin or not; not a station.
	AnyUser = Access{level: anyUser}
	// Admin is admins only.
	Admin = Access{level: admin}
	// Station is a provisioning station's token only.
	Station = Access{level: station}
)

// SelfOrAdmin is admins, and the user named by the path parameter param.
func SelfOrAdmin(param string) Access { return Access{level: selfOrAdmin, param: param} }

// String names the access level, as docs/security.md does.
func (a Access) String() string {
	switch a.level {
	case anyone:
		return "anyone"
	case anyUser:
		return "user"
	case admin:
		return "admin"
	case selfOrAdmin:
		return "self-or-admin {" + a.param + "}"
	case station:
		return "station"
	}
	return "undeclared"
}

// Check returns nil if actor may call the route r was routed to, and
// EUNAUTHORIZED or EFORBIDDEN otherwise. It reads only r's path parameters.
// The rules are the directory's (directory.Require*).
func (a Access) Check(actor directory.Actor, r *http.Request) error {
	switch a.level {
	case anyone:
		return nil
	case anyUser:
		return directory.RequireUser(actor)
	case admin:
		return directory.RequireAdmin(actor)
	case selfOrAdmin:
		return directory.RequireSelfOrAdmin(actor, r.PathValue(a.param))
	case station:
		return directory.RequireStation(actor, "")
	}
	return herald.Errorf(herald.EINTERNAL, "route declares no access")
}
