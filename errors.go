package herald

import (
	"errors"
	"fmt"
	"strings"
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
// when it names a field; several joined by "; " for Errors) if it is an
// *Error or Errors, and a generic message otherwise, so internal details
// never leak to clients.
func ErrorMessage(err error) string {
	var es Errors
	if errors.As(err, &es) {
		return es.Error()
	}
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

// Errors is several field errors of one input, reported together so a
// form can show each beside its field at once. Its code is its first
// error's (errors.As finds that one as an *Error).
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.As and errors.Is see each error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Add appends err if it is an *Error or Errors (a validator's result) and
// ignores nil. Any other error (validators return none) becomes an
// internal one, never shown as the client's fault nor its text to them.
func (es *Errors) Add(err error) {
	var many Errors
	var one *Error
	switch {
	case err == nil:
	case errors.As(err, &many):
		*es = append(*es, many...)
	case errors.As(err, &one):
		*es = append(*es, one)
	default:
		*es = append(*es, &Error{Code: EINTERNAL, Message: "internal error"})
	}
}

// Err returns nil for no errors, the one *Error for one, and es otherwise.
// An internal error among them wins, so it is not reported as bad input.
func (es Errors) Err() error {
	for _, e := range es {
		if e.Code == EINTERNAL {
			return e
		}
	}
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return es
}

// FieldErrors returns every error of err that names a field: all of an
// Errors, or the one *Error; nil if none does.
func FieldErrors(err error) []*Error {
	var es Errors
	if !errors.As(err, &es) {
		var e *Error
		if !errors.As(err, &e) {
			return nil
		}
		es = Errors{e}
	}
	var out []*Error
	for _, e := range es {
		if e.Field != "" {
			out = append(out, e)
		}
	}
	return out
}
