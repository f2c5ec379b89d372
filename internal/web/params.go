package web

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
)

// PathID reads a positive integer path parameter (an id).
// Returns ENOTFOUND naming the parameter when it is not one: no such thing
// can exist at that path.
func PathID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n < 1 {
		return 0, herald.FieldErrorf(herald.ENOTFOUND, name, "%q is not a valid id", r.PathValue(name))
	}
	return n, nil
}

// WithID adapts a handler of one id path parameter (named param): the
// route answers 404 when the parameter is not an id, and fn gets it
// parsed.
func WithID(param string, fn func(w http.ResponseWriter, r *http.Request, id int64) error) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := PathID(r, param)
		if err != nil {
			return err
		}
		return fn(w, r, id)
	}
}
