package herald

import (
	"strconv"
	"time"
)

// EventAuditEntry is the event of an audit log entry, sent to webhooks
// that subscribe to "audit".
const EventAuditEntry = "audit_entry"

// AuditEntry is one entry of the audit log: who did what to which target,
// from which client address. It is also the body of an audit_entry event.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	Actor  Actor     `json:"actor"`
	// Client is the client's address ("" for the command line).
	Client string `json:"client"`
	// Target is what was acted on: "user:jdoe", "webhook:7" (also for
	// its redeliveries, with the delivery in Detail, and replays),
	// "scim_target:8", "api_token:3", "station_token:2".
	Target string `json:"target"`
	// Detail says more, for people: never a secret.
	Detail string `json:"detail"`
}

// Audit actions.
const (
	AuditLoginSucceeded      = "login_succeeded"
	AuditLoginFailed         = "login_failed"
	AuditLoginThrottled      = "login_throttled"
	AuditLogout              = "logout"
	AuditPasswordChanged     = "password_changed"
	AuditAPITokenCreated     = "api_token_created"
	AuditAPITokenRevoked     = "api_token_revoked"
	AuditStationTokenCreated = "station_token_created"
	AuditStationTokenRevoked = "station_token_revoked"
	AuditWebhookCreated      = "webhook_created"
	AuditWebhookUpdated      = "webhook_updated"
	AuditWebhookEnabled      = "webhook_enabled"
	AuditWebhookDisabled     = "webhook_disabled"
	AuditWebhookDeleted      = "webhook_deleted"
	AuditSecretRotated       = "webhook_secret_rotated"
	AuditRedelivered         = "delivery_redelivered"
	AuditReplayed            = "webhook_replayed"
	AuditSCIMTargetCreated   = "scim_target_created"
	AuditSCIMTargetUpdated   = "scim_target_updated"
	AuditSCIMTargetEnabled   = "scim_target_enabled"
	AuditSCIMTargetDisabled  = "scim_target_disabled"
	AuditSCIMTargetDeleted   = "scim_target_deleted"
	AuditSCIMTargetResynced  = "scim_target_resynced"
)

// AuditActions are every audit action, for filters.
var AuditActions = []string{AuditLoginSucceeded, AuditLoginFailed, AuditLoginThrottled, AuditLogout, AuditPasswordChanged,
	AuditAPITokenCreated, AuditAPITokenRevoked, AuditStationTokenCreated, AuditStationTokenRevoked,
	AuditWebhookCreated, AuditWebhookUpdated, AuditWebhookEnabled, AuditWebhookDisabled, AuditWebhookDeleted,
	AuditSecretRotated, AuditRedelivered, AuditReplayed,
	AuditSCIMTargetCreated, AuditSCIMTargetUpdated, AuditSCIMTargetEnabled, AuditSCIMTargetDisabled, AuditSCIMTargetDeleted,
	AuditSCIMTargetResynced}

// AuditFilter selects audit entries: those with an id above After, oldest
// first, or with NewestFirst those with an id below Before (0: the
// newest), newest first; at most Limit. Action, Actor (an Actor.Keys
// entry) and Target must match exactly when set; every word of Q must
// appear, without regard to case, somewhere in the entry's action, actor
// (its keys, or "system"), client, target or detail.
type AuditFilter struct {
	After, Before int64
	NewestFirst   bool
	Limit         int
	Action        string
	Actor         string
	Target        string
	Q             string
}

// AuditTargetOfWebhook is the audit target of webhook id of kind
// (Webhook.Kind): "webhook:7", or "scim_target:8" for a SCIM target.
func AuditTargetOfWebhook(kind string, id int64) string {
	if kind == WebhookKindSCIM {
		return "scim_target:" + strconv.FormatInt(id, 10)
	}
	return "webhook:" + strconv.FormatInt(id, 10)
}
