package api

import (
	"net/http"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
)

func (h *Handler) registerWorker(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/worker/job", h.createJob)
	mux.HandleFunc("GET /api/v1/worker/job", h.takeJob)
	mux.HandleFunc("POST /api/v1/worker/job/{id}/done", h.finishJob)
	mux.HandleFunc("POST /api/v1/worker/token", h.createWorkerToken)
	mux.HandleFunc("GET /api/v1/worker/{id}", h.getJob)
}

func (h *Handler) createJob(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Worker   string `json:"worker"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.Username == "" {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "username: is required"))
		return
	}
	id, err := h.dir.CreateJob(r.Context(), actor(r), in.Username, in.Worker)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{"id": id})
}

func (h *Handler) getJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	j, err := h.dir.GetJob(r.Context(), actor(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (h *Handler) createWorkerToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Worker string `json:"worker"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	token, err := h.dir.CreateWorkerToken(r.Context(), actor(r), in.Worker)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"token": token})
}

func (h *Handler) takeJob(w http.ResponseWriter, r *http.Request) {
	j, u, err := h.dir.TakeJob(r.Context(), actor(r), r.URL.Query().Get("worker"))
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": j.ID, "username": u.Username, "first_name": u.FirstName, "last_name": u.LastName, "email": u.Email,
	})
}

func (h *Handler) finishJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var in struct {
		Success   *bool  `json:"success"`
		PGPKey    string `json:"pgp_key"`
		PGPCertID string `json:"pgp_cert_id"`
		SSHKey    string `json:"ssh_key"`
		Serial    string `json:"serial"`
		Error     string `json:"error"`
	}
	if err := decode(w, r, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.Success == nil {
		h.fail(w, r, herald.Errorf(herald.EINVALID, "success: is required (true or false)"))
		return
	}
	err = h.dir.FinishJob(r.Context(), actor(r), id, directory.JobResult{
		Success: *in.Success, PGPKey: in.PGPKey, PGPCertID: in.PGPCertID, SSHKey: in.SSHKey, Serial: in.Serial, Error: in.Error,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"msg": "recorded"})
}
