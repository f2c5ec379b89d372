package stationrpc

import (
	"context"
	"runtime/debug"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

// intercept runs around every call: it finds the station behind the token
// before the request is read (see unary), turns the handler's Herald errors into
// gRPC statuses through codeByError, and turns a panic into INTERNAL.
// Tokens are never logged.
func (s *service) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic", "method", method(ctx), "panic", v, "stack", string(debug.Stack()))
			err = statusOf(herald.Errorf(herald.EINTERNAL, "internal error"))
		}
	}()
	a, err := s.authenticate(ctx)
	if err == nil {
		resp, err = handler(directory.WithActor(ctx, a), req)
	}
	if err == nil {
		return resp, nil
	}
	switch code := CodeOf(err); {
	case code == codes.Internal || code == codes.Unavailable:
		s.log.Error("provisioning call failed", "method", method(ctx), "remote", remoteAddr(ctx), "err", err)
	case code == codes.NotFound && strings.HasSuffix(method(ctx), "/GetJob"):
		// A station polling with nothing to do: every 2 s, not news.
	default:
		s.log.Info("provisioning call refused", "method", method(ctx), "remote", remoteAddr(ctx),
			"code", CodeOf(err).String(), "msg", herald.ErrorMessage(err))
	}
	return nil, statusOf(err)
}

// authenticate reads the station token from the "authorization" metadata,
// sent raw (as Defguard's provisioner does) or as "Bearer <token>", and
// checks it with the directory, which knows which tokens are valid.
// Returns EUNAUTHORIZED when there is no token or it is not a valid one.
func (s *service) authenticate(ctx context.Context) (directory.Actor, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return directory.Actor{}, herald.Errorf(herald.EUNAUTHORIZED,
			"send a station token (from POST /api/v1/worker/token) in the \"authorization\" metadata")
	}
	if len(values) > 1 {
		return directory.Actor{}, herald.Errorf(herald.EUNAUTHORIZED, "send one \"authorization\" metadata value, not %d", len(values))
	}
	token := strings.TrimSpace(values[0])
	if scheme, rest, ok := strings.Cut(token, " "); ok && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(rest)
	}
	a, err := s.dir.Authenticate(ctx, "", token)
	if err != nil {
		return directory.Actor{}, err
	}
	if a.Anonymous() {
		return directory.Actor{}, herald.Errorf(herald.EUNAUTHORIZED, "unknown station token")
	}
	return a, nil
}

// method is the called method as the client named it.
func method(ctx context.Context) string {
	m, _ := grpc.Method(ctx)
	return m
}

// remoteAddr is the caller's address, for the log.
func remoteAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}
