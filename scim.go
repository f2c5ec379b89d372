package herald

import "time"

// Webhook kinds. A SCIM target is stored as a webhook of kind
// WebhookKindSCIM: it shares the outbox, the queue and the engine, and
// only its sender differs (internal/scim). The webhook API and pages
// show only WebhookKindHTTP; the SCIM target API only WebhookKindSCIM.
const (
	WebhookKindHTTP = "webhook"
	WebhookKindSCIM = "scim"
)

// SCIMTarget is a SCIM 2.0 service provider Herald keeps in step with its
// directory (docs/scim.md). Token is sent as a bearer token and stored
// sealed, as a webhook's secrets are. Herald never shows it again once
// set: reads leave Token empty (so it is left out of JSON) and say
// whether one is set (TokenSet).
type SCIMTarget struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	BaseURL  string `json:"base_url"`
	Token    string `json:"token,omitempty"`
	TokenSet bool   `json:"token_set"`
	Enabled  bool   `json:"enabled"`
	// OnlyGroups, when not empty: only users in one of these groups are
	// provisioned (and, with SyncGroups, only these groups).
	OnlyGroups []string `json:"only_groups"`
	// Deprovision is "delete" (DELETE /Users/{id}) or "deactivate"
	// (active: false).
	Deprovision string    `json:"deprovision"`
	SyncGroups  bool      `json:"sync_groups"`
	CreatedAt   time.Time `json:"created_at"`
	// DisabledReason says why Herald disabled the target itself (a 410
	// Gone), empty otherwise.
	DisabledReason  string `json:"disabled_reason"`
	TokenUnreadable bool   `json:"token_unreadable"`
	// LastResync is the last resync's report; nil before the first.
	LastResync *SCIMResync `json:"last_resync"`
}

// SCIMResync is what a resync found and queued, per kind of resource.
type SCIMResync struct {
	At     time.Time        `json:"at"`
	Users  SCIMResyncCounts `json:"users"`
	Groups SCIMResyncCounts `json:"groups"` // all zero unless sync_groups
	// Error is set when the resync could not finish (the target could not
	// be read); nothing was queued then.
	Error string `json:"error,omitempty"`
}

// SCIMResyncCounts: Unchanged resources already agree; Created are queued
// to be created (missing at the target); Updated are queued to be updated
// (they differ); Deprovisioned are queued to be deprovisioned (known to
// Herald as a user or group it no longer has, or no longer in scope);
// Adopted were found by name and their ids stored; Unmanaged are the
// target's own resources that Herald does not know and leaves alone.
type SCIMResyncCounts struct {
	Unchanged     int `json:"unchanged"`
	Created       int `json:"created"`
	Updated       int `json:"updated"`
	Deprovisioned int `json:"deprovisioned"`
	Adopted       int `json:"adopted"`
	Unmanaged     int `json:"unmanaged"`
}
