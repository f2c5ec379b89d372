package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
)

// decode reads one JSON object into dst. The body is read whole (the route
// caps its size), must pass checkStrictJSON (valid UTF-8, no repeated
// keys), and may not carry unknown fields, so a typo is not silently
// ignored; resource types list their read-only fields so that what a GET
// returns may be sent back as is.
// Returns EMEDIATYPE, ETOOLARGE or EINVALID with a message naming the problem.
func decode(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return herald.Errorf(herald.EMEDIATYPE, "send the body as JSON with Content-Type: application/json (got %q)", ct)
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeError(err)
	}
	if err := checkStrictJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return herald.Errorf(herald.EINVALID, "unexpected data after the JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &maxErr):
		return herald.Errorf(herald.ETOOLARGE, "request body is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &netErr) && netErr.Timeout():
		return herald.Errorf(herald.EINVALID, "the request body did not arrive in time")
	case errors.Is(err, io.EOF):
		return herald.Errorf(herald.EINVALID, "request body is empty; send a JSON object")
	case errors.As(err, &syntaxErr):
		return herald.Errorf(herald.EINVALID, "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return herald.Errorf(herald.EINVALID, "malformed JSON: the body ends too early")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return herald.Errorf(herald.EINVALID, "the body must be a JSON object")
		}
		return herald.Invalid(jsonKey(typeErr.Field), "must be %s", jsonKind(typeErr.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return herald.Errorf(herald.EINVALID, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return herald.Errorf(herald.EINVALID, "malformed JSON: %v", err)
	}
}

// jsonKey is the key a json.UnmarshalTypeError's Field names. Field is a
// dotted path that also holds the Go names of embedded structs
// ("defguardUser.is_active"); request bodies are flat objects, so the
// last element is the key the client sent.
func jsonKey(field string) string {
	return field[strings.LastIndex(field, ".")+1:]
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	default:
		return "of another type"
	}
}
