// Package scim keeps a SCIM 2.0 service provider (RFC 7643/7644), a
// "target", in step with Herald's directory. It turns one stored event
// (a Change) into the SCIM calls that make the target agree with it
// (Apply), and compares a target with the directory (Resync, which
// reports a herald.SCIMResync).
//
// It sends nothing itself: requests go through a Doer (the delivery
// engine's client, behind the egress guard and proxy), and the ids the
// provider gave each resource are kept by a Store (the database). The
// delivery engine decides when a Change is applied: in order per subject,
// retried on the webhook schedule, with every call logged.
package scim

import (
	"context"
)

// Target is a SCIM target as the engine sends to it: its settings, the
// token in the clear.
type Target struct {
	ID      int64
	BaseURL string // e.g. https://app.example/scim/v2, no trailing slash needed
	Token   string // sent as "Authorization: Bearer <Token>"; "" for none
	// OnlyGroups, when not empty: only users in one of these groups are
	// provisioned; a user in none of them is deprovisioned.
	OnlyGroups []string
	// Deprovision is DeprovisionDelete or DeprovisionDeactivate.
	Deprovision string
	// SyncGroups: groups are provisioned too, with their members.
	SyncGroups bool
}

// How a target deprovisions a user.
const (
	DeprovisionDelete     = "delete"     // DELETE /Users/{id}
	DeprovisionDeactivate = "deactivate" // PUT with active: false
)

// Resource kinds, as the Store keys them.
const (
	KindUser  = "user"
	KindGroup = "group"
)

// Change types that only SCIM targets get: written by a resync, never sent
// to webhooks or shown in the event feed.
const (
	// ChangeSync makes the target's resource equal to Data (a user or
	// group body, as in the user_modified and group_modified events).
	ChangeSync = "scim_sync"
	// ChangeRemove deprovisions the subject (Data is {"username": ...} or
	// {"name": ...}).
	ChangeRemove = "scim_remove"
)

// Change is one stored event as a SCIM target gets it: Type is an event
// type (user_created, user_modified, user_deleted, group_created,
// group_modified, group_deleted) or ChangeSync / ChangeRemove; Subject is
// "user:<username>" or "group:<name>"; Data and Previous are the event's
// body and the subject's state before it (nil for none), exactly as
// stored, so that a retry sends what was true when the change happened.
type Change struct {
	Type     string
	Subject  string
	Data     []byte
	Previous []byte
}

// Request is one HTTP request to a target. URL is absolute.
type Request struct {
	Method string
	URL    string
	Body   []byte // JSON, or nil
}

// Response is a target's answer. Body is capped by the Doer.
type Response struct {
	Status     int
	Body       []byte
	RetryAfter string // the Retry-After header on a 429 or 503
	// TooLarge: the body went past the Doer's cap and Body is its start
	// only, which no step can read.
	TooLarge bool
}

// Doer sends requests to a target. It adds the Authorization, Accept and
// Content-Type headers. A transport error (refused, timed out, blocked by
// the egress guard) is returned as err; Blocked reports the guard's.
type Doer interface {
	Do(ctx context.Context, t Target, req Request) (Response, error)
	Blocked(err error) bool
	// CallsOver is told when Apply will make no more calls for its
	// change: what is left is Herald's own work, storing the id the
	// target answered. The engine frees the target's slot under its cap
	// on requests in flight then, instead of holding it through the
	// id's commit.
	CallsOver()
}

// Store keeps, per target, the id the provider gave each of Herald's
// users (by username) and groups (by name). Methods return only database
// errors; a missing id is ok == false.
type Store interface {
	RemoteID(ctx context.Context, target int64, kind, name string) (id string, ok bool, err error)
	SetRemoteID(ctx context.Context, target int64, kind, name, id string) error
	DeleteRemoteID(ctx context.Context, target int64, kind, name string) error
	// ListRemoteIDs returns every id target gave resources of kind, by
	// name (a resync compares them).
	ListRemoteIDs(ctx context.Context, target int64, kind string) (map[string]string, error)
	// UserIDs is RemoteID of the user named username and UserID of that
	// user (0 if there is none now) in one read: a user's provisioning
	// needs both, and each read is a round trip to the database.
	UserIDs(ctx context.Context, target int64, username string) (remoteID string, mapped bool, userID int64, err error)
	// UserID is Herald's id of the user named username (the SCIM
	// externalId), ok == false if there is no such user now.
	UserID(ctx context.Context, username string) (id int64, ok bool, err error)
	// GroupExists reports whether Herald has a group named name now.
	GroupExists(ctx context.Context, name string) (bool, error)
}

// Verdict is what a Change's calls mean for its delivery.
type Verdict int

const (
	// Done: the target agrees with the change (or had nothing to do).
	Done Verdict = iota
	// Retry: a 5xx, 429, transport error: try again on the schedule
	// (RetryAfter honoured).
	Retry
	// Failed: a 4xx the provider will answer again (400, 401, 403, an
	// unresolvable 409 ...), or the egress guard refused: recorded as
	// failed, not retried.
	Failed
	// Gone: the target answered 410 Gone; it is disabled, as a webhook is.
	Gone
)

// Result is what Apply did: the verdict, the last call's status, and a
// log of every call made (method, path, request body, status, answer
// body), for the delivery log.
type Result struct {
	Verdict    Verdict
	Status     int    // the last answer's status, 0 for none
	Log        string // every call, request and answer; bounded
	Error      string // why it was not Done, for people
	RetryAfter string
}

// LocalResource is one of Herald's users or groups as Resync compares it:
// Name is the username or group name, Data its body as the user_modified
// or group_modified event would carry it now.
type LocalResource struct {
	Name string
	Data []byte
}

// Local is the directory as Resync sees it: every user and group (Resync
// applies the target's OnlyGroups and SyncGroups itself).
type Local struct {
	Users  []LocalResource
	Groups []LocalResource
}
