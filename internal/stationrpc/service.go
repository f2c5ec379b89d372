package stationrpc

import (
	"context"
	"log/slog"
	"math"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/directory"
	"github.com/heraldhq/herald/internal/stationrpc/workerpb"
)

// service implements the provisioning calls. Each returns Herald errors;
// intercept maps them to gRPC statuses.
type service struct {
	workerpb.UnimplementedWorkerServiceServer
	dir *directory.Service
	log *slog.Logger
}

// RegisterWorker acknowledges a station: the token must be a station token
// made for the name in Worker.id. Defguard keeps a list of stations and
// answers ALREADY_EXISTS to a second registration (which the provisioner
// accepts); Herald's stations are their tokens, so a valid registration is
// always OK.
func (s *service) RegisterWorker(ctx context.Context, w *workerpb.Worker) (*emptypb.Empty, error) {
	if err := s.dir.CheckStation(directory.ActorFrom(ctx), w.GetId()); err != nil {
		return nil, err
	}
	s.log.Info("provisioning station registered", "worker", w.GetId(), "remote", remoteAddr(ctx))
	return &emptypb.Empty{}, nil
}

// GetJob takes the station's oldest pending job, which becomes running,
// exactly as GET /api/v1/worker/job does. With none it answers NOT_FOUND,
// as Defguard does.
func (s *service) GetJob(ctx context.Context, w *workerpb.Worker) (*workerpb.GetJobResponse, error) {
	a := directory.ActorFrom(ctx)
	if err := s.dir.CheckStation(a, w.GetId()); err != nil {
		return nil, err
	}
	j, u, err := s.dir.TakeJob(ctx, a, w.GetId())
	if err != nil {
		return nil, err
	}
	if j.ID > math.MaxUint32 {
		// The protocol's job_id is 32 bits; a truncated id would point
		// the station's report at another job. The job stays running.
		return nil, herald.Errorf(herald.EINTERNAL, "job id %d does not fit the protocol's 32-bit job_id", j.ID)
	}
	s.log.Info("provisioning job taken", "job", j.ID, "worker", j.Station, "username", u.Username)
	return &workerpb.GetJobResponse{
		FirstName: u.FirstName,
		LastName:  u.LastName,
		Email:     u.Email,
		JobId:     uint32(j.ID),
	}, nil
}

// SetJobDone records a station's report exactly as
// POST /api/v1/worker/job/{id}/done does: public_key is the user's
// pgp_key (its pgp_cert_id, which the protocol does not carry, is the key's
// fingerprint, worked out by the directory), ssh_key the ssh_key and
// yubikey_serial the job's serial. A rejected key answers INVALID_ARGUMENT
// and leaves the job running.
func (s *service) SetJobDone(ctx context.Context, st *workerpb.JobStatus) (*emptypb.Empty, error) {
	a := directory.ActorFrom(ctx)
	if err := s.dir.CheckStation(a, st.GetId()); err != nil {
		return nil, err
	}
	err := s.dir.FinishJob(ctx, a, int64(st.GetJobId()), directory.JobResult{
		Success: st.GetSuccess(),
		PGPKey:  st.GetPublicKey(),
		SSHKey:  st.GetSshKey(),
		Serial:  st.GetYubikeySerial(),
		Error:   st.GetError(),
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("provisioning job reported", "job", st.GetJobId(), "worker", st.GetId(), "success", st.GetSuccess())
	return &emptypb.Empty{}, nil
}
