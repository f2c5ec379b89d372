package herald

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to exactly one HTTP status in internal/web.
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

// Error is Herald's one error type: a code for machines, the input field it
// is about (if any) and a message for people. API clients see Error() as
// {"msg": ...}: "field: message" when there is a field. The web UI shows
// Message next to the form field named Field.
type Error struct {
	Code    string
	Field   string // the JSON or form field at fault, "" for none
	Message string
	// RetryAfter, for ETOOMANY, is how long the client should wait; it
	// becomes the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about one input field.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID *Error about one input field.
func Invalid(field, format string, args ...any) *Error {
	return FieldErrorf(EINVALID, field, format, args...)
}

// TooMany returns an ETOOMANY *Error asking the client to wait retryAfter.
func TooMany(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Code: ETOOMANY, Message: fmt.Sprintf(format, args...), RetryAfter: retryAfter}
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

// ErrorMessage returns the person-readable message of err ("field: message"
// when it names a field) if it is an *Error, and a generic message
// otherwise, so internal details never leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}

// ErrorField returns the field err is about, "" if none or not an *Error.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
