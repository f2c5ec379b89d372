package store_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// TestUserByEmailAndSSHKeys: a user is found by email without regard to
// case (logins by email), and SSHKeys lists every user's key by username,
// leaving out users without one (sshd's AuthorizedKeysCommand, unfiltered).
func TestUserByEmailAndSSHKeys(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		users := []herald.User{
			{Username: "carol", FirstName: "C", LastName: "C", Email: "carol@example.com", SSHKey: "ssh-ed25519 CCCC"},
			{Username: "alice", FirstName: "A", LastName: "A", Email: "Alice@Example.com", SSHKey: "ssh-ed25519 AAAA"},
			{Username: "bob", FirstName: "B", LastName: "B", Email: "bob@example.com"},
		}
		for i := range users {
			update(t, db, func(tx *store.Tx) error { return tx.CreateUser(ctx, &users[i], "") })
		}
		view(t, db, func(tx *store.Tx) error {
			for _, email := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"} {
				u, err := tx.UserByEmail(ctx, email)
				if err != nil {
					return err
				}
				if u.Username != "alice" || u.Groups == nil {
					t.Errorf("UserByEmail(%q) = %q with groups %#v, want alice with []", email, u.Username, u.Groups)
				}
			}
			_, err := tx.UserByEmail(ctx, "nobody@example.com")
			wantCode(t, "UserByEmail(missing)", err, herald.ENOTFOUND)

			keys, err := tx.SSHKeys(ctx)
			if err != nil {
				return err
			}
			if want := []string{"ssh-ed25519 AAAA", "ssh-ed25519 CCCC"}; !slices.Equal(keys, want) {
				t.Errorf("SSHKeys = %q, want %q", keys, want)
			}
			return nil
		})
	})
}
