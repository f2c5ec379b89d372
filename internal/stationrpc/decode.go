package stationrpc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// The generated handlers decode the request before the interceptor runs,
// so a caller without a token could have its message parsed, and a
// message that does not parse would answer INTERNAL. Herald's handlers
// instead run the interceptor (which authenticates from the metadata)
// first, and only then read the message and decode it, answering
// INVALID_ARGUMENT when it is not a valid one.

// rawRequest is a request message's bytes as they came, not yet decoded.
type rawRequest struct{ b []byte }

// serverCodec is gRPC's proto codec, except that it hands a *rawRequest
// the message's bytes as they are; the handler decodes them itself.
type serverCodec struct{ encoding.CodecV2 }

func newServerCodec() serverCodec {
	return serverCodec{encoding.GetCodecV2(protoenc.Name)}
}

// Unmarshal copies the bytes into a *rawRequest (gRPC frees data once this
// returns) and decodes into anything else as proto's codec does.
func (c serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*rawRequest); ok {
		r.b = data.Materialize()
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// serviceDesc is the provisioning service under the given name, with
// handlers that authenticate before reading the request.
func serviceDesc(name string) *grpc.ServiceDesc {
	d := workerpb.WorkerService_ServiceDesc
	d.ServiceName = name
	d.Methods = []grpc.MethodDesc{
		{MethodName: "RegisterWorker", Handler: unary((*service).RegisterWorker)},
		{MethodName: "GetJob", Handler: unary((*service).GetJob)},
		{MethodName: "SetJobDone", Handler: unary((*service).SetJobDone)},
	}
	return &d
}

// unary makes a method handler for call: the interceptor runs first, then
// the request is read and decoded into an M, then call runs. A request
// that does not decode is EINVALID.
func unary[T any, M interface {
	*T
	proto.Message
}, R any](call func(*service, context.Context, M) (R, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, intercept grpc.UnaryServerInterceptor) (any, error) {
		handler := func(ctx context.Context, _ any) (any, error) {
			var raw rawRequest
			if err := dec(&raw); err != nil {
				return nil, err // a gRPC status, e.g. RESOURCE_EXHAUSTED for a message over the limit
			}
			m := M(new(T))
			if err := proto.Unmarshal(raw.b, m); err != nil {
				return nil, herald.Errorf(herald.EINVALID, "the request is not a valid %s message: %v", m.ProtoReflect().Descriptor().Name(), err)
			}
			return call(srv.(*service), ctx, m)
		}
		if intercept == nil {
			return handler(ctx, nil)
		}
		return intercept(ctx, nil, &grpc.UnaryServerInfo{Server: srv}, handler)
	}
}
