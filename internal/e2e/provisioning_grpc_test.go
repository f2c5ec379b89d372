package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// grpcFixture is a server with the provisioning service, a user jdoe and a
// token for station yubi-1.
type grpcFixture struct {
	s     *testServer
	admin *client
	token string // station yubi-1's
}

func newGRPCFixture(t *testing.T) grpcFixture {
	t.Helper()
	s := startServer(t, withGRPC)
	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl", "phone": "123456789", "password": "jdoe-pass-1",
	}, nil)
	return grpcFixture{s: s, admin: admin, token: stationToken(t, admin, "yubi-1")}
}

func stationToken(t *testing.T, admin *client, worker string) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": worker}, &tok)
	return tok.Token
}

// newJob queues a provisioning job over REST and returns its id.
func (f grpcFixture) newJob(t *testing.T, username, worker string) int64 {
	t.Helper()
	var job struct {
		ID int64 `json:"id"`
	}
	f.admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": username, "worker": worker}, &job)
	return job.ID
}

// jobStatus is GET /api/v1/worker/{id}.
func (f grpcFixture) jobStatus(t *testing.T, id int64) map[string]any {
	t.Helper()
	var st map[string]any
	f.admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/worker/%d", id), nil, &st)
	return st
}

// The provisioner's whole run against Herald: it registers, polls while
// there is nothing to do (NOT_FOUND), gets the job queued over REST with
// the user's names, and reports the keys it made. The keys land on the
// user (pgp_cert_id worked out from the key, which the protocol does not
// carry), the job is done with the serial, and the webhook receiver gets
// user_keys with the keys.
func TestGRPCProvisioningToUserKeys(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	rc := newReceiver(t)
	f.admin.addWebhook(rc.URL, map[string]any{"method": "POST", "on_user_created": false, "on_user_modified": false, "on_user_deleted": false})
	p := newProvisioner(t, f.s.GRPCAddr, f.token, "yubi-1")

	if err := p.register(); err != nil {
		t.Fatalf("RegisterWorker: %v", err)
	}
	// A provisioner that restarts registers again.
	if err := p.register(); err != nil {
		t.Fatalf("RegisterWorker again: %v", err)
	}

	type result struct {
		job *workerpb.GetJobResponse
		err error
	}
	got := make(chan result, 1)
	go func() {
		job, err := p.poll(30 * time.Second)
		got <- result{job, err}
	}()
	// The job is queued only once the provisioner has been told there is
	// none, so its 2 s polling is what finds it.
	for deadline := time.Now().Add(10 * time.Second); p.notFound.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the provisioner's first GetJob did not answer NOT_FOUND")
		}
	}
	jdoe := f.s.login("jdoe", "jdoe-pass-1")
	var created struct {
		ID int64 `json:"id"`
	}
	jdoe.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "yubi-1"}, &created)
	r := <-got
	if r.err != nil {
		t.Fatalf("polling: %v", r.err)
	}
	if r.job.GetFirstName() != "jane" || r.job.GetLastName() != "doe" || r.job.GetEmail() != "janedoe@email.pl" || int64(r.job.GetJobId()) != created.ID {
		t.Fatalf("job = %v, want jane doe janedoe@email.pl job %d", r.job, created.ID)
	}
	if st := f.jobStatus(t, created.ID); st["status"] != "running" {
		t.Fatalf("job after GetJob = %v", st)
	}
	// Taken once: the next poll finds nothing, over gRPC and over REST.
	_, err := p.take()
	wantStatus(t, "GetJob after the job was taken", err, codes.NotFound)
	f.s.withToken(f.token).expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=yubi-1", nil, nil)

	start := f.admin.lastSeq()
	sshKey := testdata(t, "ssh_rsa.pub")
	pgpKey := testdata(t, "pgp_rsa.asc")
	fpr := testdata(t, "pgp_rsa.fpr")
	// gpg's armored output ends in a newline, as does gpg --export-ssh-key's.
	if err := p.done(r.job, true, pgpKey+"\n", sshKey+"\n", "16009123", ""); err != nil {
		t.Fatalf("SetJobDone: %v", err)
	}

	if st := f.jobStatus(t, created.ID); st["status"] != "done" || st["serial"] != "16009123" || st["error"] != "" {
		t.Fatalf("job after SetJobDone = %v", st)
	}
	var u user
	jdoe.expect(http.StatusOK, "GET", "/api/v1/me", nil, &u)
	if u.SSHKey != sshKey || u.PGPKey != pgpKey || u.PGPCertID != fpr {
		t.Fatalf("keys on the user: ssh %q pgp_cert_id %q (want %q), pgp key set: %v", u.SSHKey, u.PGPCertID, fpr, u.PGPKey == pgpKey)
	}
	payload := `{"email":"janedoe@email.pl","first_name":"jane","last_name":"doe","groups":[],"is_admin":false,"pgp_cert_id":` +
		jsonString(fpr) + `,"pgp_key":` + jsonString(pgpKey) + `,"phone":"123456789","serial":"16009123","ssh_key":` + jsonString(sshKey) + `,"username":"jdoe"}`
	evs := f.admin.eventsAfter(start)
	wantEvents(t, evs, [3]string{"user_keys", "user:jdoe", payload})
	if evs[0].Actor != (actor{Type: "station", Station: "yubi-1"}) {
		t.Fatalf("actor = %+v", evs[0].Actor)
	}
	reqs := rc.waitFor(1, 10*time.Second)
	if reqs[0].event() != "user_keys" || string(reqs[0].Body) != payload {
		t.Fatalf("receiver got %s %s, want user_keys %s", reqs[0].event(), reqs[0].Body, payload)
	}
	// Reporting again is refused: the job is no longer running.
	wantStatus(t, "SetJobDone twice", p.done(r.job, false, "", "", "", "again"), codes.FailedPrecondition)

	if strings.Contains(f.s.logs.String(), f.token) {
		t.Fatal("the station token appears in the server's log")
	}
	if !strings.Contains(f.s.logs.String(), "provisioning station registered") {
		t.Fatal("the log does not say the station registered")
	}
}

// A report the directory rejects (a damaged OpenPGP key, a short RSA SSH
// key, no key at all) answers INVALID_ARGUMENT naming the field, changes
// nothing and fires nothing; the job stays running (as REST shows it) so
// the station may report again. A failure report then ends it.
func TestGRPCProvisioningBadReportLeavesJobRunning(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	p := newProvisioner(t, f.s.GRPCAddr, f.token, "yubi-1")
	id := f.newJob(t, "jdoe", "yubi-1")
	if err := p.register(); err != nil {
		t.Fatal(err)
	}
	job, err := p.poll(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := f.admin.lastSeq()
	damaged := "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----"
	for _, tc := range []struct {
		name, pgp, ssh, want string
	}{
		{"damaged OpenPGP key", damaged, testdata(t, "ssh_ed25519.pub"), "pgp_key: "},
		{"short RSA SSH key", testdata(t, "pgp_ed25519.asc"), testdata(t, "ssh_rsa1024.pub"), "ssh_key: RSA key too short"},
		{"no key", "", "", "at least one key"},
	} {
		st := wantStatus(t, tc.name, p.done(job, true, tc.pgp, tc.ssh, "123", ""), codes.InvalidArgument)
		if !strings.Contains(st.Message(), tc.want) {
			t.Errorf("%s: message %q, want one containing %q", tc.name, st.Message(), tc.want)
		}
		if s := f.jobStatus(t, id); s["status"] != "running" {
			t.Fatalf("%s: job = %v, want it still running", tc.name, s)
		}
	}
	var u user
	f.admin.expect(http.StatusOK, "GET", "/api/v1/user/jdoe", nil, &u)
	if u.SSHKey != "" || u.PGPKey != "" {
		t.Fatalf("a rejected report changed the user: %+v", u)
	}
	wantEvents(t, f.admin.eventsAfter(start))

	if err := p.done(job, false, "", "", "16009123", "No keys detected"); err != nil {
		t.Fatalf("failure report: %v", err)
	}
	if s := f.jobStatus(t, id); s["status"] != "failed" || s["error"] != "No keys detected" {
		t.Fatalf("job after the failure report = %v", s)
	}
	wantEvents(t, f.admin.eventsAfter(start))
}

// Who may call: only a station token, for its own station name and its
// own jobs; raw or as "Bearer". Authentication is checked on every call.
func TestGRPCProvisioningCredentials(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	addr := f.s.GRPCAddr
	other := stationToken(t, f.admin, "yubi-2")
	id := f.newJob(t, "jdoe", "yubi-1")
	job := &workerpb.GetJobResponse{JobId: uint32(id)}

	for _, tc := range []struct {
		name, token string
		want        codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"unknown station token", "hrldw_doesnotexist", codes.Unauthenticated},
		{"not a token at all", "Basic YWRtaW46eA==", codes.Unauthenticated},
		{"an API token (a user, not a station)", apiToken(t, f.admin), codes.PermissionDenied},
		{"another station's token", other, codes.PermissionDenied},
	} {
		p := newProvisioner(t, addr, tc.token, "yubi-1")
		wantStatus(t, tc.name+": RegisterWorker", p.register(), tc.want)
		_, err := p.take()
		wantStatus(t, tc.name+": GetJob", err, tc.want)
		wantStatus(t, tc.name+": SetJobDone", p.done(job, false, "", "", "", "x"), tc.want)
	}
	if s := f.jobStatus(t, id); s["status"] != "pending" {
		t.Fatalf("refused callers changed the job: %v", s)
	}

	// The token as "Bearer <token>" works as well as the raw token.
	if err := newProvisioner(t, addr, "Bearer "+f.token, "yubi-1").register(); err != nil {
		t.Fatalf("Bearer token: %v", err)
	}
	if err := newProvisioner(t, addr, "bearer  "+f.token, "yubi-1").register(); err != nil {
		t.Fatalf("bearer token, lower case: %v", err)
	}
	// The station's name must be given, and be its own.
	wantStatus(t, "no station name", newProvisioner(t, addr, f.token, "").register(), codes.InvalidArgument)
	wantStatus(t, "SetJobDone with another id", newProvisioner(t, addr, f.token, "yubi-2").done(job, false, "", "", "", "x"), codes.PermissionDenied)

	p := newProvisioner(t, addr, f.token, "yubi-1")
	// A job that was not taken yet cannot be reported; nor one that does
	// not exist.
	wantStatus(t, "SetJobDone on a pending job", p.done(job, false, "", "", "", "x"), codes.FailedPrecondition)
	wantStatus(t, "SetJobDone on no job", p.done(&workerpb.GetJobResponse{JobId: uint32(id + 1000)}, false, "", "", "", "x"), codes.NotFound)
	// Another station cannot report on this one's job, even under its own name.
	if _, err := p.take(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "SetJobDone on another station's job", newProvisioner(t, addr, other, "yubi-2").done(job, false, "", "", "", "x"), codes.PermissionDenied)
	if s := f.jobStatus(t, id); s["status"] != "running" {
		t.Fatalf("job = %v, want running", s)
	}
	if strings.Contains(f.s.logs.String(), f.token) || strings.Contains(f.s.logs.String(), other) {
		t.Fatal("a station token appears in the server's log")
	}
}

func apiToken(t *testing.T, admin *client) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/user/admin/api_token", map[string]string{"name": "grpc test"}, &tok)
	return tok.Token
}

// Several takers at once, as when one station runs two provisioners (two
// tokens for one name) beside a script on the REST station API: every job
// is taken exactly once.
func TestGRPCJobTakenOnce(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	const jobs = 30
	want := map[int64]bool{}
	for range jobs {
		want[f.newJob(t, "jdoe", "yubi-1")] = true
	}
	second := stationToken(t, f.admin, "yubi-1")
	takers := map[string]func() (int64, bool){}
	for name, token := range map[string]string{"grpc-a": f.token, "grpc-b": second} {
		p := newProvisioner(t, f.s.GRPCAddr, token, "yubi-1")
		if err := p.register(); err != nil {
			t.Fatal(err)
		}
		takers[name] = func() (int64, bool) {
			job, err := p.take()
			if err != nil {
				wantStatus(t, name+": GetJob", err, codes.NotFound)
				return 0, false
			}
			return int64(job.GetJobId()), true
		}
	}
	rest := f.s.withToken(second)
	takers["rest"] = func() (int64, bool) {
		r := rest.do("GET", "/api/v1/worker/job?worker=yubi-1", nil)
		if r.Status == http.StatusNoContent {
			return 0, false
		}
		var j struct {
			ID int64 `json:"id"`
		}
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &j) != nil {
			t.Errorf("rest: %d %s", r.Status, r.Body)
			return 0, false
		}
		return j.ID, true
	}

	var mu sync.Mutex
	taken := map[int64][]string{}
	takes := 0
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for name, take := range takers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			// Jobs are all queued already: nothing pending means all
			// taken. More takes than jobs means some job was taken twice.
			for {
				id, ok := take()
				if !ok {
					return
				}
				mu.Lock()
				taken[id] = append(taken[id], name)
				takes++
				enough := takes >= 3*jobs
				mu.Unlock()
				if enough {
					return
				}
			}
		}()
	}
	close(begin)
	wg.Wait()

	var ids []int64
	for id, by := range taken {
		if len(by) != 1 {
			t.Errorf("job %d taken %d times, by %v", id, len(by), by)
		}
		if !want[id] {
			t.Errorf("job %d was not queued", id)
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) != jobs {
		t.Fatalf("%d of %d jobs taken: %v", len(ids), jobs, ids)
	}
	for id := range want {
		if s := f.jobStatus(t, id); s["status"] != "running" {
			t.Fatalf("job %d = %v, want running", id, s)
		}
	}
}

// A provisioner left on its defaults calls itself "YubikeyProvisioner"
// (its --id): that name gets a token, registers, and takes the jobs
// queued for it. Names are compared exactly, so a token made for
// "yubikeyprovisioner" is another station's.
func TestGRPCDefaultProvisionerID(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	const id = "YubikeyProvisioner"
	p := newProvisioner(t, f.s.GRPCAddr, stationToken(t, f.admin, id), id)
	if err := p.register(); err != nil {
		t.Fatalf("RegisterWorker as %s: %v", id, err)
	}
	jobID := f.newJob(t, "jdoe", id)
	job, err := p.poll(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if int64(job.GetJobId()) != jobID {
		t.Fatalf("GetJob = job %d, want %d", job.GetJobId(), jobID)
	}
	if err := p.done(job, false, "", "", "", "No keys detected"); err != nil {
		t.Fatalf("SetJobDone: %v", err)
	}
	if st := f.jobStatus(t, jobID); st["status"] != "failed" || st["worker"] != id {
		t.Fatalf("job = %v", st)
	}
	lower := newProvisioner(t, f.s.GRPCAddr, stationToken(t, f.admin, "yubikeyprovisioner"), id)
	wantStatus(t, "another case's token", lower.register(), codes.PermissionDenied)
}

// A failure report over gRPC is recorded whatever its message says (the
// provisioner ignores SetJobDone's answer and never reports again): the
// message is cleaned up and cut, the serial cut to 64 characters.
func TestGRPCFailureReportCleaned(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	p := newProvisioner(t, f.s.GRPCAddr, f.token, "yubi-1")
	id := f.newJob(t, "jdoe", "yubi-1")
	job, err := p.poll(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	longSerial := strings.Repeat("7", 100)
	wantStatus(t, "success with a 100-character serial", p.done(job, true, "", testdata(t, "ssh_ed25519.pub"), longSerial, ""), codes.InvalidArgument)
	if st := f.jobStatus(t, id); st["status"] != "running" {
		t.Fatalf("job after a refused success report = %v", st)
	}
	msg, want := failureMessage()
	if err := p.done(job, false, "", "", longSerial, msg); err != nil {
		t.Fatalf("failure report: %v", err)
	}
	if st := f.jobStatus(t, id); st["status"] != "failed" || st["error"] != want || st["serial"] != longSerial[:64] {
		t.Fatalf("job = %v, want failed with error %q and serial %q", st, want, longSerial[:64])
	}
}

// A station polling with nothing to do (GetJob's NOT_FOUND, every 2 s) is
// not logged; a report on a job that does not exist is a client error
// like any other, logged as refused.
func TestGRPCNotFoundLogged(t *testing.T) {
	t.Parallel()
	f := newGRPCFixture(t)
	p := newProvisioner(t, f.s.GRPCAddr, f.token, "yubi-1")
	for range 3 {
		_, err := p.take()
		wantStatus(t, "GetJob with no job", err, codes.NotFound)
	}
	wantStatus(t, "SetJobDone on no job", p.done(&workerpb.GetJobResponse{JobId: 4242}, false, "", "", "", "x"), codes.NotFound)
	var refused []string
	for _, line := range strings.Split(f.s.logs.String(), "\n") {
		if strings.Contains(line, "provisioning call refused") {
			refused = append(refused, line)
		}
	}
	if len(refused) != 1 || !strings.Contains(refused[0], "method=/defguard.worker.v1.WorkerService/SetJobDone") ||
		!strings.Contains(refused[0], "code=NotFound") || !strings.Contains(refused[0], "level=INFO") {
		t.Fatalf("refused calls logged: %q, want one INFO line for SetJobDone's NotFound", refused)
	}
}
