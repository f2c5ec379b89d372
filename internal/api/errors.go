package api

import (
	"log/slog"
	"net/http"

	"github.com/heraldhq/herald"
)

// statusByCode maps each error code to its HTTP status: the one place where
// errors become statuses.
var statusByCode = map[string]int{
	herald.EINVALID:      http.StatusBadRequest,
	herald.EUNAUTHORIZED: http.StatusUnauthorized,
	herald.EFORBIDDEN:    http.StatusForbidden,
	herald.ENOTFOUND:     http.StatusNotFound,
	herald.ECONFLICT:     http.StatusConflict,
	herald.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	herald.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	herald.ETOOMANY:      http.StatusTooManyRequests,
	herald.EUNAVAILABLE:  http.StatusServiceUnavailable,
	herald.EINTERNAL:     http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int {
	if s, ok := statusByCode[herald.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// writeError answers {"msg": ...}. Internal errors are logged with their
// detail and shown to the client only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := StatusOf(err)
	if status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]string{"msg": herald.ErrorMessage(err)})
}

// fail is writeError for handlers.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, h.log, err)
}
