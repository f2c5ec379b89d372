// Package herald holds Herald's domain types and its one error type.
//
// Herald is a self-hosted user directory that tells other systems about every
// change through webhooks. The packages under internal/ implement it; this
// package only names the things they share.
package herald

import (
	"encoding/json"
	"time"
)

// Version is the release of this build; set with -ldflags at release time.
var Version = "0.1.0-dev"

// User is a person in the directory, as the management API shows them.
type User struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"`
	Groups    []string  `json:"groups"`
	IsAdmin   bool      `json:"is_admin"`
	SSHKey    string    `json:"ssh_key"`
	PGPKey    string    `json:"pgp_key"`
	PGPCertID string    `json:"pgp_cert_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Group is a named set of users; members of an admin group are admins.
type Group struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	IsAdmin bool     `json:"is_admin"`
}

// Event types. The first four are the seed's triggers; the rest are Herald's
// additions that webhooks must ask for by name.
const (
	EventUserCreated   = "user_created"
	EventUserModified  = "user_modified"
	EventUserDeleted   = "user_deleted"
	EventUserKeys      = "user_keys"
	EventGroupCreated  = "group_created"
	EventGroupModified = "group_modified"
	EventGroupDeleted  = "group_deleted"
	EventWebhookTest   = "webhook_test"
)

// Event is one recorded change. Payload is the request body receivers get,
// rendered when the change happened and never re-rendered.
type Event struct {
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject"`
	Actor      string          `json:"actor"`
	OccurredAt time.Time       `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
}

// Job is a hardware key provisioning job taken by a provisioning station.
type Job struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Worker   string `json:"worker"`
	Status   string `json:"status"`
	Serial   string `json:"serial"`
	Error    string `json:"error"`
}

// Job statuses.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// APIToken describes a personal API token; the secret itself is shown once
// at creation and stored only as a hash.
type APIToken struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}
