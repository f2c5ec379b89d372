// Package directory is Herald's business logic: users, groups, credentials
// and hardware key provisioning. Every method validates its input, decides
// whether the actor may act (authz.go), and makes the change and records its
// events in one transaction, so a change and its events commit together or
// not at all.
package directory

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/password"
	"github.com/heraldhq/herald/internal/secretbox"
	"github.com/heraldhq/herald/internal/store"
)

// Service is the directory. It is safe for concurrent use.
type Service struct {
	db     *store.DB
	box    *secretbox.Box
	tester WebhookTester
	// resyncer compares SCIM targets with the directory (SetSCIMResyncer).
	resyncer SCIMResyncer
	log      *slog.Logger
	limits   Limits
	// hasher bounds the password hashes and checks running at once.
	hasher *password.Gate
	// throttled remembers when a throttled login was last audited, per
	// client address (auditThrottled).
	throttled throttledAudits
}

// WebhookTester sends a webhook_test request at once (the delivery engine).
type WebhookTester interface {
	SendTest(ctx context.Context, hook herald.Webhook, ev herald.Event) herald.Attempt
}

// New returns a directory over db. box seals webhook secrets; tester sends
// test requests; limits guard logins (zero fields: DefaultLimits).
func New(db *store.DB, box *secretbox.Box, tester WebhookTester, log *slog.Logger, limits Limits) *Service {
	limits = limits.withDefaults()
	return &Service{db: db, box: box, tester: tester, log: log, limits: limits,
		hasher: password.NewGate(limits.Hashing, limits.HashWait)}
}

// Actor is who makes a request: a user (possibly an admin), a provisioning
// station, or nobody (the zero value).
type Actor struct {
	UserID   int64
	Username string
	IsAdmin  bool
	// Station is set, and the user fields are empty, for a station token.
	Station string
	// TokenID is the API token's id when the user came with one.
	TokenID int64
	// Client is the address the request came from (invalid when none),
	// for the audit log.
	Client netip.Addr
	// session is the hash of the session token the actor came with, ""
	// for a bearer token: a password change keeps this session.
	session string
}

// Anonymous reports whether the actor is not authenticated at all.
func (a Actor) Anonymous() bool { return a.UserID == 0 && a.Station == "" }

// name is how the actor is recorded in events.
func (a Actor) name() string {
	switch {
	case a.Station != "":
		return "worker:" + a.Station
	case a.Username != "":
		return a.Username
	default:
		return "system"
	}
}

// Event is the actor as events record it. The command line (CLI) is the
// system.
func (a Actor) Event() herald.Actor {
	switch {
	case a.Station != "":
		return herald.Actor{Type: herald.ActorStation, Station: a.Station}
	case a.UserID < 0 || a.Username == "":
		return herald.Actor{Type: herald.ActorSystem}
	case a.TokenID != 0:
		return herald.Actor{Type: herald.ActorAPIToken, Username: a.Username, TokenID: a.TokenID}
	default:
		return herald.Actor{Type: herald.ActorUser, Username: a.Username}
	}
}

// Health reports whether the database answers. Returns EUNAVAILABLE if not.
func (s *Service) Health(ctx context.Context) error {
	return s.db.Ping(ctx)
}

// Ready reports whether the database accepts writes. Returns EUNAVAILABLE,
// with the reason, if not (see store.DB.Ready).
func (s *Service) Ready(ctx context.Context) error {
	return s.db.Ready(ctx)
}

type actorKey struct{}

// WithActor returns a context carrying the actor of a request.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor stored by WithActor, or the anonymous actor.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// CLI is the actor of herald's admin commands: whoever can open the
// database acts with an admin's rights. Events it causes name "cli".
var CLI = Actor{UserID: -1, Username: "cli", IsAdmin: true}
