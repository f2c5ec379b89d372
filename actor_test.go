package herald

import (
	"slices"
	"testing"
)

func TestActorStored(t *testing.T) {
	for _, tc := range []struct {
		stored string
		want   Actor
	}{
		// As written now.
		{`{"type":"user","username":"jdoe"}`, Actor{Type: ActorUser, Username: "jdoe"}},
		{`{"type":"api_token","username":"jdoe","token_id":7}`, Actor{Type: ActorAPIToken, Username: "jdoe", TokenID: 7}},
		{`{"type":"station","station":"desk-1"}`, Actor{Type: ActorStation, Station: "desk-1"}},
		{`{"type":"system"}`, Actor{Type: ActorSystem}},
		// As events recorded before actors were objects hold them.
		{"jdoe", Actor{Type: ActorUser, Username: "jdoe"}},
		{"worker:desk-1", Actor{Type: ActorStation, Station: "desk-1"}},
		{"system", Actor{Type: ActorSystem}},
		{"cli", Actor{Type: ActorSystem}},
		{"", Actor{Type: ActorSystem}},
	} {
		if got := UnmarshalActor(tc.stored); got != tc.want {
			t.Errorf("UnmarshalActor(%q) = %+v, want %+v", tc.stored, got, tc.want)
		}
		if back := UnmarshalActor(MarshalActor(tc.want)); back != tc.want {
			t.Errorf("%+v does not survive storing: %+v", tc.want, back)
		}
	}
	if got := MarshalActor(Actor{}); got != `{"type":"system"}` {
		t.Errorf("the zero actor is stored as %s", got)
	}
}

func TestActorKeys(t *testing.T) {
	for _, tc := range []struct {
		a    Actor
		keys []string
		str  string
	}{
		{Actor{Type: ActorUser, Username: "jdoe"}, []string{"user:jdoe"}, "user:jdoe"},
		{Actor{Type: ActorAPIToken, Username: "jdoe", TokenID: 7}, []string{"api_token:7", "user:jdoe"}, "api_token:7 (jdoe)"},
		{Actor{Type: ActorStation, Station: "desk-1"}, []string{"station:desk-1"}, "station:desk-1"},
		{Actor{Type: ActorSystem}, nil, "system"},
	} {
		if got := tc.a.Keys(); !slices.Equal(got, tc.keys) {
			t.Errorf("%+v: keys %v, want %v", tc.a, got, tc.keys)
		}
		if got := tc.a.String(); got != tc.str {
			t.Errorf("%+v: %q, want %q", tc.a, got, tc.str)
		}
	}
}
