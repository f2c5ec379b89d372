package api

import (
	"context"
	"net/http"

	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// The handlers of resources addressed by a numeric {id} (webhooks, SCIM
// targets) differ only in the directory method they call. These adapters
// turn such a method into a handler, so a route table names the method it
// serves and the decoding and answering are written once.

// bodyOf is a request body that turns into the directory's input In.
type bodyOf[In any] interface{ input() In }

// listAll answers 200 with everything list returns.
func listAll[T any](list func(context.Context, directory.Actor) ([]T, error)) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return respond(w, http.StatusOK)(list(r.Context(), actor(r)))
	}
}

// byID answers status with what f returns for the path's {id}.
func byID[T any](status int, f func(context.Context, directory.Actor, int64) (T, error)) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		return respond(w, status)(f(r.Context(), actor(r), id))
	})
}

// createFrom decodes a body B and answers 201 with what create makes of it.
func createFrom[B bodyOf[In], In, T any](create func(context.Context, directory.Actor, In) (T, error)) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var b B
		if err := decode(r, &b); err != nil {
			return err
		}
		return respond(w, http.StatusCreated)(create(r.Context(), actor(r), b.input()))
	}
}

// replaceFrom decodes a body B and answers 200 with what update makes of
// the path's {id} and the body.
func replaceFrom[B bodyOf[In], In, T any](update func(context.Context, directory.Actor, int64, In) (T, error)) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		var b B
		if err := decode(r, &b); err != nil {
			return err
		}
		return respond(w, http.StatusOK)(update(r.Context(), actor(r), id, b.input()))
	})
}

// deleteByID answers 204 once remove has deleted the path's {id}.
func deleteByID(remove func(context.Context, directory.Actor, int64) error) web.HandlerFunc {
	return web.WithID("id", func(w http.ResponseWriter, r *http.Request, id int64) error {
		return noContent(w, remove(r.Context(), actor(r), id))
	})
}
