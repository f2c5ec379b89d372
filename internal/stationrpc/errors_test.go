package stationrpc

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald"
)

// Each error becomes the status a provisioner can act on; only Herald's
// own message is shown, and internal details never are.
func TestStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"invalid", herald.Errorf(herald.EINVALID, "ssh_key: not a key"), codes.InvalidArgument, "ssh_key: not a key"},
		{"unauthenticated", herald.Errorf(herald.EUNAUTHORIZED, "unknown token"), codes.Unauthenticated, "unknown token"},
		{"no job", herald.Errorf(herald.ENOTFOUND, "no job"), codes.NotFound, "no job"},
		{"not running", herald.Errorf(herald.ECONFLICT, "job 3 is not running"), codes.FailedPrecondition, "job 3 is not running"},
		{"unavailable", herald.Errorf(herald.EUNAVAILABLE, "database unavailable"), codes.Unavailable, "database unavailable"},
		{"cancelled by the client", fmt.Errorf("claim job: %w", context.Canceled), codes.Canceled, "the call was cancelled"},
		{"deadline passed", fmt.Errorf("claim job: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "the call's deadline passed"},
		{"anything else", errors.New("pq: relation jobs does not exist"), codes.Internal, "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := status.FromError(statusOf(tc.err))
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("statusOf(%v) = %v %q, want %v %q", tc.err, st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}
