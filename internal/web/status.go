package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald"
)

// statusByCode maps each error code to its HTTP status: the one place where
// errors become statuses, for the API and the UI alike.
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

// StatusClientGone answers a request whose client went away before it was
// answered (its context was cancelled), as nginx's 499 does: no one reads
// it, and it is no fault of the server's, so it is not logged as one.
const StatusClientGone = 499

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int {
	if errors.Is(err, context.Canceled) {
		return StatusClientGone
	}
	if s, ok := statusByCode[herald.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorStatus returns the status for err and sets the headers that go with
// it: Retry-After, in whole seconds (at least 1), for a throttled request.
// Call it before writing the status.
func ErrorStatus(w http.ResponseWriter, err error) int {
	status := StatusOf(err)
	var e *herald.Error
	if status == http.StatusTooManyRequests && errors.As(err, &e) && e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	return status
}
