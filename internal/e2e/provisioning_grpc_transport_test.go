package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/heraldhq/herald/internal/app"
	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// A provisioner built against Defguard 1.x calls the service by its old
// name, worker.WorkerService, with the same messages: Herald answers it
// the same way.
func TestGRPCLegacyServiceName(t *testing.T) {
	t.Parallel()
	provisionUnder(t, "worker.WorkerService")
}

// A provisioner built against the v2 package of Defguard's protocol
// definitions calls defguard.worker.v2.WorkerService, with the same
// messages: Herald answers it the same way.
func TestGRPCV2ServiceName(t *testing.T) {
	t.Parallel()
	provisionUnder(t, "defguard.worker.v2.WorkerService")
}

// provisionUnder runs a provisioning, failing, and an unknown token,
// calling the service by the given name.
func provisionUnder(t *testing.T, service string) {
	f := newGRPCFixture(t)
	p := newProvisioner(t, f.s.GRPCAddr, f.token, "yubi-1")
	call := func(method string, in, out any) error {
		ctx, cancel := callContext()
		defer cancel()
		return p.conn.Invoke(ctx, "/"+service+"/"+method, in, out)
	}
	if err := call("RegisterWorker", &workerpb.Worker{Id: "yubi-1"}, new(emptypb.Empty)); err != nil {
		t.Fatalf("RegisterWorker: %v", err)
	}
	var job workerpb.GetJobResponse
	wantStatus(t, "GetJob with no job", call("GetJob", &workerpb.Worker{Id: "yubi-1"}, &job), codes.NotFound)
	id := f.newJob(t, "jdoe", "yubi-1")
	if err := call("GetJob", &workerpb.Worker{Id: "yubi-1"}, &job); err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if int64(job.GetJobId()) != id || job.GetEmail() != "janedoe@email.pl" {
		t.Fatalf("job = %v, want %d for janedoe@email.pl", &job, id)
	}
	status := &workerpb.JobStatus{Id: "yubi-1", JobId: job.GetJobId(), Success: false, Error: "No keys detected"}
	if err := call("SetJobDone", status, new(emptypb.Empty)); err != nil {
		t.Fatalf("SetJobDone: %v", err)
	}
	if s := f.jobStatus(t, id); s["status"] != "failed" || s["error"] != "No keys detected" {
		t.Fatalf("job = %v", s)
	}
	wantStatus(t, "unknown token on "+service, func() error {
		q := newProvisioner(t, f.s.GRPCAddr, "hrldw_doesnotexist", "yubi-1")
		ctx, cancel := callContext()
		defer cancel()
		return q.conn.Invoke(ctx, "/"+service+"/RegisterWorker", &workerpb.Worker{Id: "yubi-1"}, new(emptypb.Empty))
	}(), codes.Unauthenticated)
}

// With grpc_tls_cert and grpc_tls_key the service speaks TLS: a client
// that trusts the certificate (the provisioner's --ca-file) provisions;
// a plaintext client gets no answer.
func TestGRPCTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSignedCert(t)
	s := startServer(t, withGRPC, func(c *app.Config) { c.GRPCTLSCert, c.GRPCTLSKey = certFile, keyFile })
	admin := s.admin()
	token := stationToken(t, admin, "yubi-tls")
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "admin", "worker": "yubi-tls"}, &job)

	p := newProvisioner(t, s.GRPCAddr, token, "yubi-tls", grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err := p.register(); err != nil {
		t.Fatalf("RegisterWorker over TLS: %v", err)
	}
	got, err := p.poll(10 * time.Second)
	if err != nil || int64(got.GetJobId()) != job.ID {
		t.Fatalf("GetJob over TLS: %v %v", got, err)
	}
	if err := p.done(got, true, "", testdata(t, "ssh_ed25519.pub"), "1", ""); err != nil {
		t.Fatalf("SetJobDone over TLS: %v", err)
	}

	plain := newProvisioner(t, s.GRPCAddr, token, "yubi-tls")
	wantStatus(t, "plaintext RegisterWorker to a TLS service", plain.register(), codes.Unavailable)
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and
// returns the pool that trusts it.
func selfSignedCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// "herald serve" with HERALD_GRPC_ADDR serves the provisioning service,
// says where in its log, and stops cleanly on SIGTERM.
func TestHeraldServeGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	t.Parallel()
	bin := buildHerald(t)
	httpPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	grpcPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"HERALD_ADDR=127.0.0.1:"+httpPort,
		"HERALD_GRPC_ADDR=127.0.0.1:"+grpcPort,
		"HERALD_DATABASE="+newDatabase(t),
		"HERALD_SECRET_KEY="+testSecretKey,
		"HERALD_ADMIN_PASSWORD="+adminPassword,
		"HERALD_LOG_FORMAT=text", // the address is looked for as text below
	)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("herald's log:\n%s", logs.tail(16<<10))
		}
	})
	s := &testServer{t: t, URL: "http://127.0.0.1:" + httpPort}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r, err := http.Get(s.URL + "/api/v1/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("herald serve did not answer /api/v1/health in 15 s")
		}
	}
	// The line is written before the API serves, but reaches logs through
	// a pipe this process copies from, which may lag behind the answer.
	want := "grpc_addr=127.0.0.1:" + grpcPort
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not name the service's address (%s)", want)
		}
	}
	admin := s.admin()
	rc := newReceiver(t)
	admin.addWebhook(rc.URL, map[string]any{"method": "POST", "on_user_created": false, "on_user_modified": false, "on_user_deleted": false})
	token := stationToken(t, admin, "yubi-proc")
	p := newProvisioner(t, "127.0.0.1:"+grpcPort, token, "yubi-proc")
	if err := p.register(); err != nil {
		t.Fatalf("RegisterWorker: %v", err)
	}
	_, err = p.take()
	wantStatus(t, "GetJob with no job", err, codes.NotFound)

	// A whole provisioning: a job queued over REST, taken over gRPC, the
	// keys reported, and the receiver told.
	var queued struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "admin", "worker": "yubi-proc"}, &queued)
	job, err := p.poll(10 * time.Second)
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	if int64(job.GetJobId()) != queued.ID || job.GetEmail() == "" {
		t.Fatalf("GetJob = %v, want job %d with the admin's email", job, queued.ID)
	}
	sshKey, pgpKey, fpr := testdata(t, "ssh_rsa.pub"), testdata(t, "pgp_rsa.asc"), testdata(t, "pgp_rsa.fpr")
	if err := p.done(job, true, pgpKey+"\n", sshKey+"\n", "16009123", ""); err != nil {
		t.Fatalf("SetJobDone: %v", err)
	}
	var st map[string]any
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/worker/%d", queued.ID), nil, &st)
	if st["status"] != "done" || st["serial"] != "16009123" {
		t.Fatalf("job after SetJobDone = %v", st)
	}
	reqs := rc.waitFor(1, 15*time.Second)
	var keys struct {
		Username  string `json:"username"`
		SSHKey    string `json:"ssh_key"`
		PGPKey    string `json:"pgp_key"`
		PGPCertID string `json:"pgp_cert_id"`
	}
	if err := json.Unmarshal(reqs[0].Body, &keys); err != nil {
		t.Fatalf("the receiver got %s: %v", reqs[0].Body, err)
	}
	if reqs[0].event() != "user_keys" || keys.Username != "admin" || keys.SSHKey != sshKey || keys.PGPKey != pgpKey || keys.PGPCertID != fpr {
		t.Fatalf("the receiver got %s %s, want user_keys for admin with the reported keys", reqs[0].event(), reqs[0].Body)
	}

	// Told to stop, herald closes both services and exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("herald serve after SIGTERM: %v", exitErr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("herald serve did not stop within 20 s of SIGTERM")
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("the station token appears in herald's log")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := p.client.GetJob(ctx, &workerpb.Worker{Id: "yubi-proc"}); err == nil {
		t.Fatal("GetJob answered after herald stopped")
	}
}

// rawCodec sends a []byte as the message, as it is, so a test can send
// bytes that are not a valid message; it ignores answers.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (rawCodec) Name() string                         { return "proto" }

// A request that is not a valid message (a string field that is not
// UTF-8) is refused without being read when the caller has no valid
// token (UNAUTHENTICATED), and is INVALID_ARGUMENT naming the message for
// a station: never INTERNAL. Nothing changes.
func TestGRPCMalformedRequest(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	id := f.newJob(t, "jdoe", "yubi-1")
	// Worker{id: "\xff\xfe"} and JobStatus{id: "yubi-1", job_id: id, error: "\xff"}.
	badWorker := []byte{0x0a, 0x02, 0xff, 0xfe}
	badStatus := protowire.AppendVarint(append([]byte{0x0a, 0x06}, "yubi-1"...), 0x10)
	badStatus = append(protowire.AppendVarint(badStatus, uint64(id)), 0x3a, 0x01, 0xff)
	calls := []struct {
		method string
		msg    []byte
	}{
		{"RegisterWorker", badWorker},
		{"GetJob", badWorker},
		{"SetJobDone", badStatus},
	}
	for _, tc := range []struct {
		name, token string
		want        codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"unknown token", "hrldw_doesnotexist", codes.Unauthenticated},
		{"station token", f.token, codes.InvalidArgument},
	} {
		p := newProvisioner(t, f.s.GRPCAddr, tc.token, "yubi-1")
		for _, c := range calls {
			ctx, cancel := callContext()
			err := p.conn.Invoke(ctx, "/defguard.worker.v1.WorkerService/"+c.method, c.msg, new([]byte), grpc.ForceCodecV2(rawCodec{}))
			cancel()
			st := wantStatus(t, tc.name+": "+c.method, err, tc.want)
			if tc.want == codes.InvalidArgument && !strings.Contains(st.Message(), "not a valid") {
				t.Errorf("%s: %s: message %q does not say the request is not valid", tc.name, c.method, st.Message())
			}
		}
	}
	if s := f.jobStatus(t, id); s["status"] != "pending" {
		t.Fatalf("job = %v, want it still pending", s)
	}
	if logs := f.s.logs.String(); strings.Contains(logs, "provisioning call failed") || strings.Contains(logs, "panic") {
		t.Fatalf("a malformed request was logged as a server error:\n%s", logs)
	}
}
