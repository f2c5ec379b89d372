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

// Event is one recorded change. Payload is the request body receivers get,
// rendered when the change happened and never re-rendered.
type Event struct {
	Seq        int64           `json:"seq"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject"`
	Actor      Actor           `json:"actor"`
	OccurredAt time.Time       `json:"occurred_at"`
	Payload    json.RawMessage `json:"payload"`
	// Previous is the subject's state before the change, rendered like
	// Payload and stored with the event; nil when there was none (a
	// *_created event, and events without a subject's state).
	Previous json.RawMessage `json:"-"`
}

// Job is a hardware key provisioning job taken by a provisioning station.
type Job struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Station  string `json:"worker"`
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

// StationToken describes a provisioning station's token; the secret itself
// is shown once at creation and stored only as a hash. ExpiresAt nil means
// it never expires; LastUsedAt nil that it was never used.
type StationToken struct {
	ID         int64      `json:"id"`
	Station    string     `json:"worker"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// Webhook is a receiver of events (docs/receivers.md). Token and SigningSecret
// are stored encrypted; they appear here in the clear for admins only.
type Webhook struct {
	ID          int64  `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	Token       string `json:"token"`
	Enabled     bool   `json:"enabled"`
	Triggers
	Method string   `json:"method"`
	Events []string `json:"events"`
	// Format is FormatDefguard or FormatEnvelope.
	Format string `json:"format"`
	// IgnoreActors are actors (Actor.Keys) whose events the webhook does
	// not get; OnlyGroups, when not empty, the groups whose user and
	// group events alone it gets (Event.FilterGroups).
	IgnoreActors  []string  `json:"ignore_actors"`
	OnlyGroups    []string  `json:"only_groups"`
	SigningSecret string    `json:"signing_secret"`
	CreatedAt     time.Time `json:"created_at"`
	// DisabledReason says why Herald disabled the webhook itself (a 410
	// Gone), empty otherwise.
	DisabledReason string `json:"disabled_reason"`
	// TokenUnreadable and SigningSecretUnreadable are true when Herald's
	// secret key cannot open the stored token or signing secret (they were
	// sealed under another key); Token or SigningSecret is then empty.
	// Replacing the webhook (its token) or rotating its signing secret
	// overwrites them.
	TokenUnreadable         bool `json:"token_unreadable"`
	SigningSecretUnreadable bool `json:"signing_secret_unreadable"`
	// PreviousSecret still signs, beside SigningSecret, until
	// PreviousSecretUntil: a rotation gives receivers 24 h to switch.
	PreviousSecret      string    `json:"-"`
	PreviousSecretUntil time.Time `json:"-"`
	// Kind is WebhookKindHTTP, or WebhookKindSCIM for a SCIM target stored
	// as a webhook (scim.go); Deprovision and SyncGroups are a SCIM
	// target's settings (SCIMTarget).
	Kind        string `json:"-"`
	Deprovision string `json:"-"`
	SyncGroups  bool   `json:"-"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryRetrying  = "retrying"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Delivery is one event on its way to one webhook.
type Delivery struct {
	ID             int64      `json:"id"`
	Event          string     `json:"event"`
	EventID        string     `json:"event_id"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	CompletedAt    *time.Time `json:"completed_at"`
}

// Attempt is one HTTP request of a delivery and what came back.
type Attempt struct {
	N            int       `json:"n"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	StatusCode   int       `json:"status_code"`
	ResponseBody string    `json:"response_body"`
	Error        string    `json:"error"`
}

// WebhookHealth is how a webhook's deliveries are going, from its
// delivery log: the last attempt, the run of failed attempts since the
// last success, and what waits.
type WebhookHealth struct {
	// LastAttemptAt is nil when nothing was ever attempted.
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error"`
	// ConsecutiveFailures counts the failed attempts since the last
	// successful one (or ever); FailingSince is the first of them.
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailingSince        *time.Time `json:"failing_since"`
	// Pending counts deliveries waiting to be sent; NextAttemptAt is when
	// the soonest of them is due (a past time: due now), those queued
	// behind an unfinished delivery of their subject aside.
	Pending       int        `json:"pending"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

// Webhook health states (WebhookHealth.State).
const (
	HealthDisabled = "disabled"
	HealthFailing  = "failing"
	HealthHealthy  = "healthy"
	HealthNew      = "new" // nothing attempted yet
)

// State sums the health of a webhook that is enabled or not up in one word.
func (h WebhookHealth) State(enabled bool) string {
	switch {
	case !enabled:
		return HealthDisabled
	case h.LastAttemptAt == nil:
		return HealthNew
	case h.ConsecutiveFailures > 0:
		return HealthFailing
	}
	return HealthHealthy
}
