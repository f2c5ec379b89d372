package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/heraldhq/herald"
)

const jobColumns = `j.id, u.username, j.worker, j.status, j.serial, j.error`

func scanJob(row interface{ Scan(...any) error }) (herald.Job, error) {
	var j herald.Job
	err := row.Scan(&j.ID, &j.Username, &j.Station, &j.Status, &j.Serial, &j.Error)
	return j, err
}

// CreateJob queues a provisioning job for a user on a station.
func (tx *Tx) CreateJob(ctx context.Context, userID int64, station string) (int64, error) {
	return tx.insert(ctx, `INSERT INTO jobs (user_id, worker, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
		userID, station, herald.JobPending, micros(tx.Now))
}

// JobByID returns a job. Returns ENOTFOUND if there is none.
func (tx *Tx) JobByID(ctx context.Context, id int64) (herald.Job, error) {
	j, err := scanJob(tx.queryRow(ctx, `SELECT `+jobColumns+` FROM jobs j JOIN users u ON u.id = j.user_id WHERE j.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, herald.Errorf(herald.ENOTFOUND, "no provisioning job with id %d", id)
	}
	return j, err
}

// NextPendingJob returns the oldest pending job of a station, or ENOTFOUND.
func (tx *Tx) NextPendingJob(ctx context.Context, station string) (herald.Job, error) {
	j, err := scanJob(tx.queryRow(ctx, `SELECT `+jobColumns+` FROM jobs j JOIN users u ON u.id = j.user_id
		WHERE j.worker = $1 AND j.status = $2 ORDER BY j.id LIMIT 1`, station, herald.JobPending))
	if errors.Is(err, sql.ErrNoRows) {
		return j, herald.Errorf(herald.ENOTFOUND, "no pending job for station %q", station)
	}
	return j, err
}

// SetJobStatus sets a job's status, serial and error.
func (tx *Tx) SetJobStatus(ctx context.Context, id int64, status, serial, errMsg string) error {
	res, err := tx.exec(ctx, `UPDATE jobs SET status = $1, serial = $2, error = $3, updated_at = $4 WHERE id = $5`,
		status, serial, errMsg, micros(tx.Now), id)
	if err != nil {
		return err
	}
	return mustAffect(res, "no provisioning job with id %d", id)
}

// JobsForUser returns a user's provisioning jobs, newest first.
func (tx *Tx) JobsForUser(ctx context.Context, userID int64, limit int) ([]herald.Job, error) {
	rows, err := tx.query(ctx, `SELECT `+jobColumns+` FROM jobs j JOIN users u ON u.id = j.user_id
		WHERE j.user_id = $1 ORDER BY j.id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	jobs := []herald.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}
