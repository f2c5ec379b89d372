package api

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald"
)

// TestJobStatusSuccess: success is null until a job ends, then whether the
// station succeeded, beside Herald's own fields.
func TestJobStatusSuccess(t *testing.T) {
	tests := []struct{ status, want string }{
		{herald.JobPending, "null"},
		{herald.JobRunning, "null"},
		{herald.JobDone, "true"},
		{herald.JobFailed, "false"},
	}
	for _, tt := range tests {
		j := herald.Job{ID: 4, Username: "jdoe", Station: "station1", Status: tt.status}
		b, err := json.Marshal(newJobStatus(j))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"id":4,"username":"jdoe","worker":"station1","status":"` + tt.status + `","serial":"","error":"","success":` + tt.want + `}`
		if string(b) != want {
			t.Errorf("%s: %s, want %s", tt.status, b, want)
		}
	}
}
