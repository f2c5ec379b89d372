package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the management API as OpenAPI 3.1.
// internal/e2e/openapi_test.go checks it against every route and against
// the server's real answers.
//
//go:embed openapi.json
var openAPIDocument []byte

// serveOpenAPI answers GET /api/v1/openapi.json; anyone may read it.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
	return nil
}
