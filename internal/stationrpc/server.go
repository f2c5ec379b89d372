// Package stationrpc serves Defguard's hardware key provisioning protocol,
// the gRPC service defguard.worker.v1.WorkerService, so that Defguard's
// YubiKey provisioner can take Herald's provisioning jobs unchanged. It is
// a second way into the same directory methods the REST station API uses
// (TakeJob, FinishJob): a job is taken once, whichever way takes it, and a
// report is validated and recorded exactly as over REST.
//
// The protocol's description is proto/defguard/worker/v1/worker.proto; the
// Go code in workerpb is generated from it by scripts/genproto.
package stationrpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// LegacyServiceName is the name Defguard 1.x gave the same service (its
// proto package was "worker"). Provisioner builds made against Defguard 1.x
// call it by that name; the messages and field numbers are the same, so
// Herald answers under both names.
const LegacyServiceName = "worker.WorkerService"

// V2ServiceName is the same service in the v2 package of Defguard's
// protocol definitions (v2/worker/worker.proto), whose messages and field
// numbers are v1's; a provisioner built against it calls this name.
const V2ServiceName = "defguard.worker.v2.WorkerService"

// Options configure the server.
type Options struct {
	// TLSCert and TLSKey are PEM files of a certificate and its key. Both
	// set: the service speaks TLS. Both empty: plaintext, the provisioner's
	// default.
	TLSCert, TLSKey string
}

// NewServer returns a gRPC server offering the provisioning service (under
// its name, V2ServiceName and LegacyServiceName), authenticated by
// station tokens.
// It fails if only one of the TLS files is given or they cannot be loaded.
func NewServer(dir *directory.Service, log *slog.Logger, opts Options) (*grpc.Server, error) {
	svc := &service{dir: dir, log: log}
	serverOpts := []grpc.ServerOption{
		grpc.UnaryInterceptor(svc.intercept),
		// Requests are decoded by the handlers, after authentication.
		grpc.ForceServerCodecV2(newServerCodec()),
		// The provisioner asks its HTTP/2 connection to send keep-alive
		// pings every 10 s. gRPC's default policy allows one ping per
		// 5 minutes and closes connections that ping more often.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	switch {
	case opts.TLSCert != "" && opts.TLSKey != "":
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("grpc_tls_cert, grpc_tls_key: %w", err)
		}
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		})))
	case opts.TLSCert != "" || opts.TLSKey != "":
		return nil, errors.New("grpc_tls_cert and grpc_tls_key: set both (TLS) or neither (plaintext)")
	}
	srv := grpc.NewServer(serverOpts...)
	srv.RegisterService(serviceDesc(workerpb.WorkerService_ServiceDesc.ServiceName), svc)
	srv.RegisterService(serviceDesc(V2ServiceName), svc)
	srv.RegisterService(serviceDesc(LegacyServiceName), svc)
	return srv, nil
}

// Serve serves the provisioning service on ln until ctx is done or the
// returned stop is called, whichever comes first, then stops gracefully:
// calls in flight finish (for up to 10 s). stop returns once the service
// has stopped; call it before closing the database.
// It fails, serving nothing, as NewServer does.
func Serve(ctx context.Context, ln net.Listener, dir *directory.Service, log *slog.Logger, opts Options) (stop func(), err error) {
	srv, err := NewServer(dir, log, opts)
	if err != nil {
		return nil, err
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil {
			log.Error("the provisioning service stopped", "err", err)
		}
	}()
	stop = sync.OnceFunc(func() {
		graceful := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(graceful)
		}()
		select {
		case <-graceful:
		case <-time.After(10 * time.Second):
			srv.Stop()
		}
		<-served
	})
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-served:
		}
	}()
	return stop, nil
}
