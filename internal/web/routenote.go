package web

import (
	"context"
	"net/http"
)

// The route a request reached, for the request metrics (internal/server):
// the metrics middleware gives each request a place to note it, and the
// wrapper Mount puts around each route notes its pattern there, a string
// fixed when the route was declared.

type routeNoteKey struct{}

// WithRouteNote returns a context in which the route a request reaches
// writes its pattern ("GET /api/v1/user/{username}") to *pattern. A
// request that reaches no route leaves it as it was.
func WithRouteNote(ctx context.Context, pattern *string) context.Context {
	return context.WithValue(ctx, routeNoteKey{}, pattern)
}

// noteRoute writes pattern where WithRouteNote asked, if it did.
func noteRoute(r *http.Request, pattern string) {
	if p, ok := r.Context().Value(routeNoteKey{}).(*string); ok {
		*p = pattern
	}
}
