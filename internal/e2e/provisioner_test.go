package e2e

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// withGRPC serves the provisioning service on a free loopback port
// (testServer.GRPCAddr).
func withGRPC(c *app.Config) { c.GRPCAddr = "127.0.0.1:0" }

// provisioner stands in for Defguard's YubiKey provisioner: a gRPC client
// built from Herald's generated code that makes the provisioner's calls in
// its order (RegisterWorker; GetJob every 2 s until a job comes; SetJobDone
// with the result) and sends its token the way it does: raw, in the
// "authorization" metadata of every call.
type provisioner struct {
	t      *testing.T
	id     string // the station name (the provisioner's --id)
	conn   *grpc.ClientConn
	client workerpb.WorkerServiceClient
	every  time.Duration // between polls; the provisioner's is 2 s

	notFound atomic.Int64 // GetJob calls answered NOT_FOUND
}

// newProvisioner connects to addr (plaintext unless opts say otherwise).
// An empty token sends no authorization metadata at all.
func newProvisioner(t *testing.T, addr, token, id string, opts ...grpc.DialOption) *provisioner {
	t.Helper()
	auth := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", token)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	opts = append(opts, grpc.WithUnaryInterceptor(auth))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("grpc client for %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &provisioner{t: t, id: id, conn: conn, client: workerpb.NewWorkerServiceClient(conn), every: 2 * time.Second}
}

func callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// register is the provisioner's first call. It goes on after OK or
// ALREADY_EXISTS (what Defguard answers to a station it knows); any other
// answer stops it.
func (p *provisioner) register() error {
	ctx, cancel := callContext()
	defer cancel()
	_, err := p.client.RegisterWorker(ctx, &workerpb.Worker{Id: p.id})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}

// take is one GetJob call.
func (p *provisioner) take() (*workerpb.GetJobResponse, error) {
	ctx, cancel := callContext()
	defer cancel()
	job, err := p.client.GetJob(ctx, &workerpb.Worker{Id: p.id})
	if status.Code(err) == codes.NotFound {
		p.notFound.Add(1)
	}
	return job, err
}

// poll is the provisioner's loop: GetJob at once, then every p.every,
// until a job comes. NOT_FOUND means nothing to do yet; any other error
// fails the test (the provisioner would retry silently, which would only
// hide it here).
func (p *provisioner) poll(timeout time.Duration) (*workerpb.GetJobResponse, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		job, err := p.take()
		if err == nil {
			return job, nil
		}
		if status.Code(err) != codes.NotFound {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no job came within the timeout")
		}
		<-tick.C
	}
}

// done reports a job's end as the provisioner does: id is the station
// name, job_id the job's, and on failure the keys are empty.
func (p *provisioner) done(job *workerpb.GetJobResponse, success bool, pgpKey, sshKey, serial, errMsg string) error {
	ctx, cancel := callContext()
	defer cancel()
	_, err := p.client.SetJobDone(ctx, &workerpb.JobStatus{
		Id: p.id, JobId: job.GetJobId(), Success: success,
		PublicKey: pgpKey, SshKey: sshKey, YubikeySerial: serial, Error: errMsg,
	})
	return err
}

// wantStatus fails the test unless err is a gRPC status with code want.
func wantStatus(t *testing.T, what string, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != want {
		t.Fatalf("%s: %v, want %s", what, err, want)
	}
	return st
}
