package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/web"
)

// errorBody is every error answer: msg for a person ("field: message",
// several joined by "; "), and, when the input had faults in named fields,
// errors with each one, so a client can show all of them at once.
type errorBody struct {
	Msg    string       `json:"msg"`
	Errors []fieldError `json:"errors,omitempty"`
}

type fieldError struct {
	Field string `json:"field"`
	Msg   string `json:"msg"`
}

// WriteError answers errorBody with the status of err (internal/web's
// table); an internal error is shown only as "internal error" (fail logs
// its detail). The server's middleware uses it too.
func WriteError(w http.ResponseWriter, err error) {
	b := errorBody{Msg: herald.ErrorMessage(err)}
	if herald.ErrorCode(err) != herald.EINTERNAL {
		for _, e := range herald.FieldErrors(err) {
			b.Errors = append(b.Errors, fieldError{Field: e.Field, Msg: e.Message})
		}
	}
	_ = writeJSON(w, web.ErrorStatus(w, err), b)
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
