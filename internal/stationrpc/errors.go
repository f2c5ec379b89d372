package stationrpc

import (
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

// CodeOf returns the gRPC status code for err.
func CodeOf(err error) codes.Code {
	if c, ok := codeByError[herald.ErrorCode(err)]; ok {
		return c
	}
	return codes.Internal
}

// statusOf turns err into a gRPC status error with its person-readable
// message; internal errors show only "internal error".
func statusOf(err error) error {
	return status.Error(CodeOf(err), herald.ErrorMessage(err))
}
