package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// userPayload is the body of user_created, user_modified and user_keys, with
// the keys of Defguard's webhook body in its order (docs/receivers.md).
// Serial is set for user_keys only: the serial number of the hardware key
// holding the keys, as Defguard sends it; other bodies leave the key out.
type userPayload struct {
	Email     string   `json:"email"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Groups    []string `json:"groups"`
	IsAdmin   bool     `json:"is_admin"`
	PGPCertID string   `json:"pgp_cert_id"`
	PGPKey    string   `json:"pgp_key"`
	Phone     string   `json:"phone"`
	Serial    *string  `json:"serial,omitempty"`
	SSHKey    string   `json:"ssh_key"`
	Username  string   `json:"username"`
}

// groupPayload is the body of the group events (docs/receivers.md).
type groupPayload struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	IsAdmin bool     `json:"is_admin"`
}

// renderUser returns the exact bytes receivers get for u.
func renderUser(u herald.User) []byte {
	return mustJSON(payloadOf(u))
}

// renderUserKeys returns the exact bytes of user_keys for u with the keys
// on the hardware key with this serial number.
func renderUserKeys(u herald.User, serial string) []byte {
	p := payloadOf(u)
	p.Serial = &serial
	return mustJSON(p)
}

// payloadOf is u as a user body, its groups sorted.
func payloadOf(u herald.User) userPayload {
	groups := append([]string{}, u.Groups...)
	sort.Strings(groups)
	return userPayload{
		Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Groups: groups, IsAdmin: u.IsAdmin,
		PGPCertID: u.PGPCertID, PGPKey: u.PGPKey, Phone: u.Phone, SSHKey: u.SSHKey,
		Username: u.Username,
	}
}

func renderGroup(g herald.Group) []byte {
	members := append([]string{}, g.Members...)
	sort.Strings(members)
	return mustJSON(groupPayload{Name: g.Name, Members: members, IsAdmin: g.IsAdmin})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings and bools are marshalled here
	}
	return b
}

func userSubject(username string) string { return "user:" + username }
func groupSubject(name string) string    { return "group:" + name }

// emit records one event in tx: payload is the subject's state after the
// change, previous its state before (nil for none), rendered alike.
func emit(ctx context.Context, tx *store.Tx, a Actor, typ, subject string, payload, previous []byte) error {
	return tx.AppendEvent(ctx, &herald.Event{Type: typ, Subject: subject, Actor: a.Event(), Payload: payload, Previous: previous})
}

// snapshot remembers how users looked to receivers before a change, so that
// afterwards user_modified fires for exactly those whose payload changed.
type snapshot map[int64][]byte

// takeSnapshot renders the given users as they are now in tx.
func takeSnapshot(ctx context.Context, tx *store.Tx, ids []int64) (snapshot, error) {
	users, err := tx.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	snap := make(snapshot, len(users))
	for _, u := range users {
		snap[u.ID] = renderUser(u)
	}
	return snap, nil
}

// emitChanged fires user_modified, in username order, for every user in snap
// whose payload now differs, and touches their updated_at. Users deleted
// since the snapshot are skipped: user_deleted speaks for them.
func (snap snapshot) emitChanged(ctx context.Context, tx *store.Tx, a Actor) error {
	ids := make([]int64, 0, len(snap))
	for id := range snap {
		ids = append(ids, id)
	}
	users, err := tx.UsersByIDs(ctx, ids)
	if err != nil {
		return err
	}
	for _, u := range users {
		after := renderUser(u)
		if bytes.Equal(after, snap[u.ID]) {
			continue
		}
		if err := tx.TouchUser(ctx, u.ID); err != nil {
			return err
		}
		if err := emit(ctx, tx, a, herald.EventUserModified, userSubject(u.Username), after, snap[u.ID]); err != nil {
			return err
		}
	}
	return nil
}

// groupBefore returns g as it was before username joined it (joined) or
// left it (not joined), for a group_modified's previous state.
func groupBefore(g herald.Group, username string, joined bool) herald.Group {
	if joined {
		g.Members = slices.DeleteFunc(slices.Clone(g.Members), func(m string) bool { return m == username })
	} else {
		g.Members = append(slices.Clone(g.Members), username)
	}
	return g
}

// ensureAdminLeft fails the change if it would leave nobody able to
// administer Herald.
func ensureAdminLeft(ctx context.Context, tx *store.Tx) error {
	n, err := tx.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return herald.Errorf(herald.EINVALID, "this change would leave Herald without an admin; make another user an admin first")
	}
	return nil
}

// ListEvents returns up to limit events after seq, in commit order. Admins only.
func (s *Service) ListEvents(ctx context.Context, a Actor, after int64, limit int) ([]herald.Event, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var events []herald.Event
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		events, err = tx.ListEvents(ctx, after, limit)
		return err
	})
	return events, err
}

// RecentEvents returns up to limit events before seq (0 for the newest),
// newest first. Admins only.
func (s *Service) RecentEvents(ctx context.Context, a Actor, before int64, limit int) ([]herald.Event, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var events []herald.Event
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		events, err = tx.ListEventsBefore(ctx, before, limit)
		return err
	})
	return events, err
}

// FindEvents returns up to limit events before seq (0 for the newest),
// newest first, whose type, subject and actor contain every word of q,
// and how many match in all. Admins only. Returns EINVALID (q: too long).
func (s *Service) FindEvents(ctx context.Context, a Actor, q string, before int64, limit int) ([]herald.Event, int, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, 0, err
	}
	var events []herald.Event
	var total int
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		events, total, err = tx.FindEvents(ctx, q, before, max(limit, 1))
		return err
	})
	return events, total, err
}
