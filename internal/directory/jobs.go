package directory

import (
	"context"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// CreateJob queues a hardware key provisioning job for a user on a
// station. Admins, or the user for themself.
// Returns ENOTFOUND (user) or EINVALID (station name).
func (s *Service) CreateJob(ctx context.Context, a Actor, username, station string) (int64, error) {
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return 0, err
	}
	if err := validateStation(station); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		id, err = tx.CreateJob(ctx, u.ID, station)
		return err
	})
	return id, err
}

// GetJob returns a job. Admins, or the user the job is for.
// Returns ENOTFOUND.
func (s *Service) GetJob(ctx context.Context, a Actor, id int64) (herald.Job, error) {
	if err := RequireUser(a); err != nil {
		return herald.Job{}, err
	}
	var j herald.Job
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		j, err = tx.JobByID(ctx, id)
		return err
	})
	if err != nil {
		return herald.Job{}, err
	}
	if err := RequireSelfOrAdmin(a, j.Username); err != nil {
		// Do not tell other users which job ids exist.
		return herald.Job{}, herald.Errorf(herald.ENOTFOUND, "no provisioning job with id %d", id)
	}
	return j, nil
}

// TakeJob hands a station its oldest pending job, now running, with the
// user it is for. Stations only, for their own name.
// Returns ENOTFOUND when there is no pending job.
func (s *Service) TakeJob(ctx context.Context, a Actor, station string) (herald.Job, herald.User, error) {
	if station == "" {
		return herald.Job{}, herald.User{}, invalid("worker", "is required (?worker=NAME)")
	}
	if err := RequireStation(a, station); err != nil {
		return herald.Job{}, herald.User{}, err
	}
	var j herald.Job
	var u herald.User
	err := s.db.Update(ctx, func(tx *store.Tx) (err error) {
		if j, err = tx.NextPendingJob(ctx, station); err != nil {
			return err
		}
		if err := tx.SetJobStatus(ctx, j.ID, herald.JobRunning, "", ""); err != nil {
			return err
		}
		j.Status = herald.JobRunning
		u, err = tx.UserByUsername(ctx, j.Username)
		return err
	})
	return j, u, err
}

// JobResult is what a station reports when it finishes a job.
type JobResult struct {
	Success   bool
	PGPKey    string
	PGPCertID string
	SSHKey    string
	Serial    string
	Error     string
}

// Limits of what a station reports, in characters.
const (
	maxSerial   = 64
	maxJobError = 1000
)

// FinishJob records a station's result. On success the user's keys are set
// and user_keys fires, in one transaction. Stations only, for their own jobs.
// Returns ENOTFOUND, ECONFLICT (job not running) or EINVALID (bad key or
// serial on success; the job stays running so the station can report
// again). A failure is never refused for its message or serial: those are
// cleaned up (cleanText) instead, because Defguard's provisioner does not
// read the answer and never reports again, so a refused failure would
// leave the job running forever.
func (s *Service) FinishJob(ctx context.Context, a Actor, id int64, r JobResult) error {
	if err := RequireStation(a, ""); err != nil {
		return err
	}
	if r.Success {
		if err := validateText("serial", r.Serial, maxSerial); err != nil {
			return err
		}
		if err := validateText("error", r.Error, maxJobError); err != nil {
			return err
		}
	} else {
		r.Serial, r.Error = cleanText(r.Serial, maxSerial), cleanText(r.Error, maxJobError)
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		j, err := tx.JobByID(ctx, id)
		if err != nil {
			return err
		}
		if j.Station != a.Station {
			return herald.Errorf(herald.EFORBIDDEN, "job %d belongs to station %q", id, j.Station)
		}
		if j.Status != herald.JobRunning {
			return herald.Errorf(herald.ECONFLICT, "job %d is %s, not running", id, j.Status)
		}
		if !r.Success {
			msg := r.Error
			if msg == "" {
				msg = "the station reported a failure without a message"
			}
			return tx.SetJobStatus(ctx, id, herald.JobFailed, r.Serial, msg)
		}
		u, err := tx.UserByUsername(ctx, j.Username)
		if err != nil {
			return err
		}
		before := u
		u.SSHKey, u.PGPKey, u.PGPCertID = r.SSHKey, r.PGPKey, r.PGPCertID
		if u.SSHKey == "" && u.PGPKey == "" {
			return invalid("ssh_key", "a successful job must report at least one key")
		}
		if err := validateProfile(&u); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		if err := tx.SetJobStatus(ctx, id, herald.JobDone, r.Serial, ""); err != nil {
			return err
		}
		return emit(ctx, tx, a, herald.EventUserKeys, userSubject(u.Username), renderUserKeys(u, r.Serial), renderUserKeys(before, ""))
	})
}

// ListJobs returns a user's latest provisioning jobs, newest first.
// Admins, or the user themself. Returns ENOTFOUND.
func (s *Service) ListJobs(ctx context.Context, a Actor, username string) ([]herald.Job, error) {
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return nil, err
	}
	var jobs []herald.Job
	err := s.db.View(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		jobs, err = tx.JobsForUser(ctx, u.ID, 10)
		return err
	})
	return jobs, err
}
