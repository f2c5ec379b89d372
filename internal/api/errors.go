package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/web"
)

// WriteError answers {"msg": ...} with the status of err (internal/web's
// table); an internal error is shown only as "internal error" (fail logs
// its detail). The server's middleware uses it too.
func WriteError(w http.ResponseWriter, err error) {
	_ = writeJSON(w, web.ErrorStatus(w, err), map[string]string{"msg": herald.ErrorMessage(err)})
}

// fail is the API's error writer (web.ErrorWriter).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch status := web.StatusOf(err); {
	case status == http.StatusServiceUnavailable:
		// The database is away or refuses writes: the store logs the
		// condition once at ERROR; each request refused meanwhile is a
		// warning.
		h.log.Warn("request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	case status >= 500:
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, err)
}
