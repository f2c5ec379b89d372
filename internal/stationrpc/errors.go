package stationrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald"
)

// codeByError maps each Herald error code to its gRPC status code: the one
// place where errors become gRPC statuses (as internal/api's table does for
// HTTP).
var codeByError = map[string]codes.Code{
	herald.EINVALID:      codes.InvalidArgument,
	herald.EUNAUTHORIZED: codes.Unauthenticated,
	herald.EFORBIDDEN:    codes.PermissionDenied,
	herald.ENOTFOUND:     codes.NotFound,
	herald.ECONFLICT:     codes.FailedPrecondition, // e.g. reporting on a job that is not running
	herald.ETOOLARGE:     codes.ResourceExhausted,
	herald.EMEDIATYPE:    codes.InvalidArgument,
	herald.ETOOMANY:      codes.ResourceExhausted,
	herald.EUNAVAILABLE:  codes.Unavailable,
	herald.EINTERNAL:     codes.Internal,
}

// CodeOf returns the gRPC status code for err. A call the client gave up
// on (its context cancelled or past its deadline) is Canceled or
// DeadlineExceeded, not an internal error.
func CodeOf(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	var he *herald.Error
	if st, ok := status.FromError(err); ok && !errors.As(err, &he) {
		return st.Code() // gRPC's own, e.g. reading the request failed
	}
	if c, ok := codeByError[herald.ErrorCode(err)]; ok {
		return c
	}
	return codes.Internal
}

// statusOf turns err into a gRPC status error with its person-readable
// message; internal errors show only "internal error".
func statusOf(err error) error {
	switch c := CodeOf(err); c {
	case codes.Canceled:
		return status.Error(c, "the call was cancelled")
	case codes.DeadlineExceeded:
		return status.Error(c, "the call's deadline passed")
	}
	var he *herald.Error
	if st, ok := status.FromError(err); ok && !errors.As(err, &he) {
		return st.Err()
	}
	return status.Error(CodeOf(err), herald.ErrorMessage(err))
}
