package api

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/web"
)

// workerRoutes are hardware key provisioning: users (or admins for them)
// start jobs, stations take and finish them, admins manage station tokens.
func (h *Handler) workerRoutes() []web.Route {
	return []web.Route{
		// Any user: the directory then checks it is their own job.
		{Pattern: "POST /api/v1/worker/job", Access: web.AnyUser, Handle: h.createJob},
		{Pattern: "GET /api/v1/worker/{id}", Access: web.AnyUser, Handle: web.WithID("id", h.getJob)},
		{Pattern: "GET /api/v1/worker/job", Access: web.Station, Handle: h.takeJob},
		{Pattern: "POST /api/v1/worker/job/{id}/done", Access: web.Station, Handle: web.WithID("id", h.finishJob)},
		{Pattern: "POST /api/v1/worker/token", Access: web.Admin, Handle: h.createStationToken},
		{Pattern: "GET /api/v1/worker/token", Access: web.Admin, Handle: h.listStationTokens},
		{Pattern: "DELETE /api/v1/worker/token/{id}", Access: web.Admin, Handle: web.WithID("id", h.revokeStationToken)},
	}
}

func (h *Handler) createJob(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Username string `json:"username"`
		Station  string `json:"worker"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Username == "" {
		return herald.Invalid("username", "is required")
	}
	id, err := h.dir.CreateJob(r.Context(), actor(r), in.Username, in.Station)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]int64{"id": id})
}

// jobStatus is a job as GET /api/v1/worker/{id} answers it: with Success
// as Defguard's job status has it, null until the job ends, then whether
// the station succeeded.
type jobStatus struct {
	herald.Job
	Success *bool `json:"success"`
}

func newJobStatus(j herald.Job) jobStatus {
	s := jobStatus{Job: j}
	switch j.Status {
	case herald.JobDone, herald.JobFailed:
		ok := j.Status == herald.JobDone
		s.Success = &ok
	}
	return s
}

func (h *Handler) getJob(w http.ResponseWriter, r *http.Request, id int64) error {
	j, err := h.dir.GetJob(r.Context(), actor(r), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newJobStatus(j))
}

func (h *Handler) takeJob(w http.ResponseWriter, r *http.Request) error {
	j, u, err := h.dir.TakeJob(r.Context(), actor(r), r.URL.Query().Get("worker"))
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return noContent(w, nil)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"id": j.ID, "username": u.Username, "first_name": u.FirstName, "last_name": u.LastName, "email": u.Email,
	})
}

func (h *Handler) finishJob(w http.ResponseWriter, r *http.Request, id int64) error {
	var in struct {
		Success   *bool  `json:"success"`
		PGPKey    string `json:"pgp_key"`
		PGPCertID string `json:"pgp_cert_id"`
		SSHKey    string `json:"ssh_key"`
		Serial    string `json:"serial"`
		Error     string `json:"error"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Success == nil {
		return herald.Invalid("success", "is required (true or false)")
	}
	err := h.dir.FinishJob(r.Context(), actor(r), id, directory.JobResult{
		Success: *in.Success, PGPKey: in.PGPKey, PGPCertID: in.PGPCertID, SSHKey: in.SSHKey, Serial: in.Serial, Error: in.Error,
	})
	return respond(w, http.StatusOK)(map[string]string{"msg": "recorded"}, err)
}

func (h *Handler) createStationToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Station   string  `json:"worker"`
		ExpiresAt *string `json:"expires_at"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var expires *time.Time
	if in.ExpiresAt != nil && *in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, *in.ExpiresAt)
		if err != nil {
			return herald.Invalid("expires_at", "must be an RFC 3339 time like 2027-01-02T15:04:05Z")
		}
		expires = &t
	}
	t, err := h.dir.CreateStationToken(r.Context(), actor(r), in.Station, expires)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "worker": t.Station, "token": t.Token, "expires_at": t.ExpiresAt})
}

func (h *Handler) listStationTokens(w http.ResponseWriter, r *http.Request) error {
	return respond(w, http.StatusOK)(h.dir.ListStationTokens(r.Context(), actor(r)))
}

func (h *Handler) revokeStationToken(w http.ResponseWriter, r *http.Request, id int64) error {
	return noContent(w, h.dir.RevokeStationToken(r.Context(), actor(r), id))
}
