package store_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

func TestJobs(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		alice, bob := createUser(t, db, "alice"), createUser(t, db, "bob")
		newJob := func(u herald.User, worker string) int64 {
			t.Helper()
			var id int64
			update(t, db, func(tx *store.Tx) (err error) {
				id, err = tx.CreateJob(ctx, u.ID, worker)
				return err
			})
			return id
		}
		j1 := newJob(alice, "st1")
		j2 := newJob(bob, "st1")
		j3 := newJob(alice, "st2")
		j4 := newJob(alice, "st1")

		next := func(worker string) (herald.Job, error) {
			var j herald.Job
			err := db.View(ctx, func(tx *store.Tx) (err error) {
				j, err = tx.NextPendingJob(ctx, worker)
				return err
			})
			return j, err
		}
		setStatus := func(id int64, status, serial, msg string) error {
			return db.Update(ctx, func(tx *store.Tx) error { return tx.SetJobStatus(ctx, id, status, serial, msg) })
		}

		view(t, db, func(tx *store.Tx) error {
			j, err := tx.JobByID(ctx, j1)
			want := herald.Job{ID: j1, Username: "alice", Station: "st1", Status: herald.JobPending}
			if err != nil || j != want {
				t.Errorf("JobByID = %+v, %v; want %+v", j, err, want)
			}
			_, err = tx.JobByID(ctx, 99999)
			wantCode(t, "JobByID(missing)", err, herald.ENOTFOUND)
			return nil
		})

		if j, err := next("st1"); err != nil || j.ID != j1 {
			t.Errorf("NextPendingJob(st1) = %+v, %v; want job %d", j, err, j1)
		}
		if j, err := next("st2"); err != nil || j.ID != j3 {
			t.Errorf("NextPendingJob(st2) = %+v, %v; want job %d", j, err, j3)
		}
		_, err := next("st3")
		wantCode(t, "NextPendingJob(station without jobs)", err, herald.ENOTFOUND)

		if err := setStatus(j1, herald.JobRunning, "", ""); err != nil {
			t.Fatal(err)
		}
		if j, err := next("st1"); err != nil || j.ID != j2 || j.Username != "bob" {
			t.Errorf("NextPendingJob(st1) after taking the first = %+v, %v; want job %d", j, err, j2)
		}
		if err := setStatus(j2, herald.JobDone, "SN-123", ""); err != nil {
			t.Fatal(err)
		}
		if err := setStatus(j4, herald.JobFailed, "", "no key inserted"); err != nil {
			t.Fatal(err)
		}
		_, err = next("st1")
		wantCode(t, "NextPendingJob(st1) with none pending", err, herald.ENOTFOUND)
		wantCode(t, "SetJobStatus(missing)", setStatus(99999, herald.JobDone, "", ""), herald.ENOTFOUND)

		view(t, db, func(tx *store.Tx) error {
			j, err := tx.JobByID(ctx, j2)
			if want := (herald.Job{ID: j2, Username: "bob", Station: "st1", Status: herald.JobDone, Serial: "SN-123"}); err != nil || j != want {
				t.Errorf("JobByID(done) = %+v, %v; want %+v", j, err, want)
			}
			j, err = tx.JobByID(ctx, j4)
			if want := (herald.Job{ID: j4, Username: "alice", Station: "st1", Status: herald.JobFailed, Error: "no key inserted"}); err != nil || j != want {
				t.Errorf("JobByID(failed) = %+v, %v; want %+v", j, err, want)
			}
			jobs, err := tx.JobsForUser(ctx, alice.ID, 10)
			if err != nil {
				return err
			}
			if got := jobIDs(jobs); !slices.Equal(got, []int64{j4, j3, j1}) {
				t.Errorf("JobsForUser(alice) = %v, want newest first %v", got, []int64{j4, j3, j1})
			}
			jobs, err = tx.JobsForUser(ctx, alice.ID, 2)
			if err != nil {
				return err
			}
			if got := jobIDs(jobs); !slices.Equal(got, []int64{j4, j3}) {
				t.Errorf("JobsForUser(alice, 2) = %v, want %v", got, []int64{j4, j3})
			}
			jobs, err = tx.JobsForUser(ctx, 99999, 10)
			if err != nil || jobs == nil || len(jobs) != 0 {
				t.Errorf("JobsForUser(nobody) = %#v, %v; want []", jobs, err)
			}
			return nil
		})
	})
}

func jobIDs(jobs []herald.Job) []int64 {
	var ids []int64
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}
