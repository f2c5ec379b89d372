package herald

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in internal/api.
const (
	EINVALID      = "invalid"      // bad input: 400
	EUNAUTHORIZED = "unauthorized" // not logged in or bad credentials: 401
	EFORBIDDEN    = "forbidden"    // logged in but not allowed: 403
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // e.g. a taken username: 409
	ETOOLARGE     = "too_large"    // request body over the limit: 413
	EMEDIATYPE    = "media_type"   // request body not JSON: 415
	ETOOMANY      = "too_many"     // throttled: 429
	EUNAVAILABLE  = "unavailable"  // the database does not answer: 503
	EINTERNAL     = "internal"     // a bug: 500
)

// Error is Herald's one error type: a code for machines and a message for
// people. Messages are shown to API clients as {"msg": ...}.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// EINTERNAL otherwise, so unknown failures are never shown as client errors.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the person-readable message of err if it is an *Error,
// and a generic message otherwise, so internal details never leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
