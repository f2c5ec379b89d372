package herald

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorsCollect(t *testing.T) {
	var es Errors
	es.Add(nil)
	if es.Err() != nil {
		t.Fatal("no errors must be nil")
	}
	es.Add(Invalid("username", "is required"))
	if e, ok := es.Err().(*Error); !ok || e.Field != "username" {
		t.Fatalf("one error = %#v", es.Err())
	}
	es.Add(Errors{Invalid("email", "is bad"), Invalid("password", "is short")})
	err := fmt.Errorf("wrapped: %w", es.Err())
	if got := ErrorCode(err); got != EINVALID {
		t.Fatalf("code %q", got)
	}
	if got, want := ErrorMessage(err), "username: is required; email: is bad; password: is short"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	if fs := FieldErrors(err); len(fs) != 3 || fs[2].Field != "password" {
		t.Fatalf("field errors %v", fs)
	}
	es.Add(errors.New("disk on fire"))
	if got := ErrorCode(es.Err()); got != EINTERNAL {
		t.Fatalf("an internal error among field errors has code %q", got)
	}
	if got := ErrorMessage(es.Err()); got != "internal error" {
		t.Fatalf("internal message leaked: %q", got)
	}
	if FieldErrors(Errorf(ENOTFOUND, "no such user")) != nil {
		t.Fatal("an error without a field has no field errors")
	}
}
