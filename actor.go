package herald

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Actor types: who caused an event.
const (
	ActorUser     = "user"      // a person with a session
	ActorAPIToken = "api_token" // a person's API token
	ActorStation  = "station"   // a provisioning station's token
	ActorSystem   = "system"    // Herald itself, or its command line
)

// Actor is who caused an event, as the event feed and envelopes show it.
type Actor struct {
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
	TokenID  int64  `json:"token_id,omitempty"`
	Station  string `json:"station,omitempty"`
}

// Keys returns the ignore_actors entries that name a: "user:<username>"
// for a user and for their API tokens, "api_token:<id>" for a token,
// "station:<name>" for a station; none for the system.
func (a Actor) Keys() []string {
	switch a.Type {
	case ActorUser:
		return []string{"user:" + a.Username}
	case ActorAPIToken:
		return []string{"api_token:" + strconv.FormatInt(a.TokenID, 10), "user:" + a.Username}
	case ActorStation:
		return []string{"station:" + a.Station}
	}
	return nil
}

// String is a short form for logs and pages: "user:jdoe",
// "api_token:7 (jdoe)", "station:desk-1" or "system".
func (a Actor) String() string {
	switch a.Type {
	case ActorUser, ActorStation:
		return a.Keys()[0]
	case ActorAPIToken:
		return "api_token:" + strconv.FormatInt(a.TokenID, 10) + " (" + a.Username + ")"
	}
	return ActorSystem
}

// MarshalActor renders a as stored with its event.
func MarshalActor(a Actor) string {
	if a.Type == "" {
		a.Type = ActorSystem
	}
	b, _ := json.Marshal(a) // strings and an integer: cannot fail
	return string(b)
}

// UnmarshalActor reads an actor as stored with its event. Events recorded
// before actors were objects hold a name: "worker:<station>", "system",
// "cli" (the command line, now the system) or a username.
func UnmarshalActor(s string) Actor {
	if strings.HasPrefix(s, "{") {
		var a Actor
		if json.Unmarshal([]byte(s), &a) == nil && a.Type != "" {
			return a
		}
	}
	switch {
	case strings.HasPrefix(s, "worker:"):
		return Actor{Type: ActorStation, Station: strings.TrimPrefix(s, "worker:")}
	case s == "" || s == "system" || s == "cli":
		return Actor{Type: ActorSystem}
	}
	return Actor{Type: ActorUser, Username: s}
}
