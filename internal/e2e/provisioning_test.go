package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A hardware key provisioning job goes from pending to running to done;
// the station's keys land on the user and user_keys fires with them.
func TestProvisioningToUserKeys(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	admin.expect(http.StatusCreated, "POST", "/api/v1/user", map[string]string{
		"username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl", "phone": "123456789", "password": "jdoe-pass-1",
	}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station1"}, &tok)
	station := s.withToken(tok.Token)

	// No job yet.
	station.expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=station1", nil, nil)

	// The user starts their own job.
	jdoe := s.login("jdoe", "jdoe-pass-1")
	var job struct {
		ID int64 `json:"id"`
	}
	jdoe.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "jdoe", "worker": "station1"}, &job)
	jobPath := fmt.Sprintf("/api/v1/worker/%d", job.ID)
	var status map[string]any
	jdoe.expect(http.StatusOK, "GET", jobPath, nil, &status)
	if status["status"] != "pending" || status["username"] != "jdoe" || status["worker"] != "station1" {
		t.Fatalf("job = %v", status)
	}
	start := admin.lastSeq()

	var taken map[string]any
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station1", nil, &taken)
	want := map[string]any{"id": float64(job.ID), "username": "jdoe", "first_name": "jane", "last_name": "doe", "email": "janedoe@email.pl"}
	if fmt.Sprint(taken) != fmt.Sprint(want) {
		t.Fatalf("station got %v, want %v", taken, want)
	}
	station.expect(http.StatusNoContent, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	jdoe.expect(http.StatusOK, "GET", jobPath, nil, &status)
	if status["status"] != "running" {
		t.Fatalf("job after take = %v", status)
	}

	sshKey := testdata(t, "ssh_ed25519.pub")
	pgpKey := testdata(t, "pgp_ed25519.asc")
	fpr := testdata(t, "pgp_ed25519.fpr")
	done := fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID)
	// A key whose fingerprint does not match is refused; the job keeps running.
	r := station.expect(http.StatusBadRequest, "POST", done, map[string]any{
		"success": true, "ssh_key": sshKey, "pgp_key": pgpKey, "pgp_cert_id": testdata(t, "pgp_rsa.fpr"), "serial": "123456",
	}, nil)
	if !strings.Contains(r.msg(), "pgp_cert_id") {
		t.Fatalf("mismatch msg = %q", r.msg())
	}
	jdoe.expect(http.StatusOK, "GET", jobPath, nil, &status)
	if status["status"] != "running" {
		t.Fatalf("job after a bad report = %v", status)
	}
	station.expect(http.StatusOK, "POST", done, map[string]any{
		"success": true, "ssh_key": sshKey, "pgp_key": pgpKey, "pgp_cert_id": strings.ToLower(fpr), "serial": "123456",
	}, nil)
	jdoe.expect(http.StatusOK, "GET", jobPath, nil, &status)
	if status["status"] != "done" || status["serial"] != "123456" || status["error"] != "" {
		t.Fatalf("job after done = %v", status)
	}
	// Reporting twice is a conflict.
	station.expect(http.StatusConflict, "POST", done, map[string]any{"success": false, "error": "again"}, nil)

	var u user
	jdoe.expect(http.StatusOK, "GET", "/api/v1/me", nil, &u)
	if u.SSHKey != sshKey || u.PGPKey != pgpKey || u.PGPCertID != fpr {
		t.Fatalf("keys not set: %+v", u)
	}
	payload := `{"email":"janedoe@email.pl","first_name":"jane","last_name":"doe","groups":[],"is_admin":false,"pgp_cert_id":` +
		jsonString(fpr) + `,"pgp_key":` + jsonString(pgpKey) + `,"phone":"123456789","serial":"123456","ssh_key":` + jsonString(sshKey) + `,"username":"jdoe"}`
	evs := admin.eventsAfter(start)
	wantEvents(t, evs, [3]string{"user_keys", "user:jdoe", payload})
	if evs[0].Actor != (actor{Type: "station", Station: "station1"}) {
		t.Fatalf("actor = %+v", evs[0].Actor)
	}

	// sshd's AuthorizedKeysCommand gets the key, by user or by group.
	keys := s.anon().expect(http.StatusOK, "GET", "/api/v1/ssh_authorized_keys?username=jdoe", nil, nil)
	if string(keys.Body) != sshKey+"\n" || !strings.HasPrefix(keys.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("authorized keys = %q (%s)", keys.Body, keys.Header.Get("Content-Type"))
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/group", map[string]any{"name": "ssh", "members": []string{"jdoe", "admin"}}, nil)
	keys = s.anon().expect(http.StatusOK, "GET", "/api/v1/ssh_authorized_keys?group=ssh", nil, nil)
	if string(keys.Body) != sshKey+"\n" {
		t.Fatalf("group authorized keys = %q", keys.Body)
	}
	if r := s.anon().expect(http.StatusOK, "GET", "/api/v1/ssh_authorized_keys", nil, nil); string(r.Body) != sshKey+"\n" {
		t.Fatalf("every authorized key = %q", r.Body)
	}
	if r := s.anon().expect(http.StatusOK, "GET", "/api/v1/ssh_authorized_keys?username=nobody", nil, nil); len(r.Body) != 0 {
		t.Fatalf("unknown user keys = %q", r.Body)
	}
}

// A station reports a failure: the job is failed with the error, the user
// unchanged, and no event fires.
func TestProvisioningFailure(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	var tok struct {
		Token string `json:"token"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/token", map[string]string{"worker": "station2"}, &tok)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "admin", "worker": "station2"}, &job)
	station := s.withToken(tok.Token)
	// A station asks only for its own jobs.
	station.expect(http.StatusForbidden, "GET", "/api/v1/worker/job?worker=station1", nil, nil)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station2", nil, nil)
	start := admin.lastSeq()
	station.expect(http.StatusOK, "POST", fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID), map[string]any{"success": false, "error": "card not found"}, nil)
	var status map[string]any
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/worker/%d", job.ID), nil, &status)
	if status["status"] != "failed" || status["error"] != "card not found" {
		t.Fatalf("job = %v", status)
	}
	wantEvents(t, admin.eventsAfter(start))
	// A revoked or unknown station token is refused.
	s.withToken("hrldw_unknown").expect(http.StatusUnauthorized, "GET", "/api/v1/worker/job?worker=station2", nil, nil)
}

// A failure report is recorded whatever its message says: a message of
// several lines, with control characters, or too long, and a serial
// over 64 characters, are cleaned up and cut instead of refused (a
// refused failure would leave the job running, as no station reports
// twice). A success report with such a serial is still refused.
func TestProvisioningFailureMessageCleaned(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.admin()
	token := stationToken(t, admin, "station3")
	station := s.withToken(token)
	var job struct {
		ID int64 `json:"id"`
	}
	admin.expect(http.StatusCreated, "POST", "/api/v1/worker/job", map[string]string{"username": "admin", "worker": "station3"}, &job)
	station.expect(http.StatusOK, "GET", "/api/v1/worker/job?worker=station3", nil, nil)
	done := fmt.Sprintf("/api/v1/worker/job/%d/done", job.ID)
	longSerial := strings.Repeat("1", 100)

	station.expect(http.StatusBadRequest, "POST", done, map[string]any{"success": true, "ssh_key": testdata(t, "ssh_ed25519.pub"), "serial": longSerial}, nil)
	var st map[string]any
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/worker/%d", job.ID), nil, &st)
	if st["status"] != "running" {
		t.Fatalf("job after a refused success report = %v", st)
	}

	msg, want := failureMessage()
	station.expect(http.StatusOK, "POST", done, map[string]any{"success": false, "error": msg, "serial": longSerial}, nil)
	admin.expect(http.StatusOK, "GET", fmt.Sprintf("/api/v1/worker/%d", job.ID), nil, &st)
	if st["status"] != "failed" || st["error"] != want || st["serial"] != longSerial[:64] {
		t.Fatalf("job = %v, want failed with error %q and serial %q", st, want, longSerial[:64])
	}
}

// failureMessage is a station's failure message of several lines with
// control characters, over the 1000-character limit, and what Herald
// records of it.
func failureMessage() (msg, recorded string) {
	head := "gpg: card error\nYubiKey not found\t\x1b[0m"
	msg = head + strings.Repeat("x", 1200)
	recorded = "gpg: card error YubiKey not found  [0m"
	return msg, recorded + strings.Repeat("x", 1000-len(recorded))
}
