package queue

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald"
)

// TestPlan: a claim serves the webhooks from a different one each time
// (fairness), leaves out paused ones and those at their cap, gives each
// its room under the cap, and spends a query on a busy webhook only when
// it has MinRoom free.
func TestPlan(t *testing.T) {
	hooks := []herald.Webhook{{ID: 1}, {ID: 2}, {ID: 3}}
	tests := []struct {
		name string
		req  Request
		turn int
		want string // id:room, with ? where it gets no query
	}{
		{"turn 0", Request{PerWebhook: 4}, 0, "1:4 2:4 3:4"},
		{"turn 1", Request{PerWebhook: 4}, 1, "2:4 3:4 1:4"},
		{"turn 5 wraps", Request{PerWebhook: 4}, 5, "3:4 1:4 2:4"},
		{"paused", Request{PerWebhook: 4, Paused: map[int64]bool{2: true}}, 0, "1:4 3:4"},
		{"in flight", Request{PerWebhook: 4, InFlight: map[int64]int{1: 1, 3: 3}}, 0, "1:3 2:4 3:1"},
		{"at the cap", Request{PerWebhook: 4, InFlight: map[int64]int{1: 4, 2: 5}}, 0, "3:4"},
		{"MinRoom: busy with little room", Request{PerWebhook: 4, MinRoom: 2, InFlight: map[int64]int{1: 1, 3: 3}}, 0, "1:3 2:4 3:1?"},
		{"MinRoom: idle with little room", Request{PerWebhook: 1, MinRoom: 2}, 0, "1:1 2:1 3:1"},
		{"everything paused", Request{PerWebhook: 4, Paused: map[int64]bool{1: true, 2: true, 3: true}}, 0, ""},
	}
	for _, tt := range tests {
		got := ""
		for i, s := range plan(tt.req, hooks, tt.turn) {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%d:%d", s.hook.ID, s.room)
			if !s.query {
				got += "?"
			}
		}
		if got != tt.want {
			t.Errorf("%s: plan %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := plan(Request{PerWebhook: 4}, nil, 3); len(got) != 0 {
		t.Errorf("no webhooks: plan %v", got)
	}
}
