package store_test

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
	"github.com/heraldhq/herald/internal/testdb"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		c := useClock(db)
		alice := herald.User{Username: "alice", FirstName: "Alice", LastName: "Liddell", Email: "Alice@Example.com",
			Phone: "123", SSHKey: "ssh-ed25519 AAAA", PGPKey: "-----BEGIN PGP", PGPCertID: "ABCD"}
		update(t, db, func(tx *store.Tx) error { return tx.CreateUser(ctx, &alice, "argon2id$hash") })
		if alice.ID == 0 || !alice.CreatedAt.Equal(t0) || !alice.UpdatedAt.Equal(t0) || alice.Groups == nil {
			t.Errorf("CreateUser set ID %d, CreatedAt %v, UpdatedAt %v, Groups %#v", alice.ID, alice.CreatedAt, alice.UpdatedAt, alice.Groups)
		}

		view(t, db, func(tx *store.Tx) error {
			byName, err := tx.UserByUsername(ctx, "alice")
			if err != nil {
				return err
			}
			byID, err := tx.UserByID(ctx, alice.ID)
			if err != nil {
				return err
			}
			for _, got := range []herald.User{byName, byID} {
				wantUser(t, got, alice)
				if got.Groups == nil || len(got.Groups) != 0 || got.IsAdmin {
					t.Errorf("new user: Groups %#v, IsAdmin %v; want [] and false", got.Groups, got.IsAdmin)
				}
			}
			_, err = tx.UserByUsername(ctx, "nobody")
			wantCode(t, "UserByUsername(missing)", err, herald.ENOTFOUND)
			_, err = tx.UserByID(ctx, alice.ID+1000)
			wantCode(t, "UserByID(missing)", err, herald.ENOTFOUND)
			// Usernames are exact: no case folding.
			_, err = tx.UserByUsername(ctx, "Alice")
			wantCode(t, "UserByUsername(other case)", err, herald.ENOTFOUND)

			if taken, err := tx.UsernameTaken(ctx, "alice"); err != nil || !taken {
				t.Errorf("UsernameTaken(alice) = %v, %v", taken, err)
			}
			if taken, err := tx.UsernameTaken(ctx, "bob"); err != nil || taken {
				t.Errorf("UsernameTaken(bob) = %v, %v", taken, err)
			}
			if taken, err := tx.EmailTaken(ctx, "aLiCe@example.COM", 0); err != nil || !taken {
				t.Errorf("EmailTaken(other case) = %v, %v; want true", taken, err)
			}
			if taken, err := tx.EmailTaken(ctx, "alice@example.com", alice.ID); err != nil || taken {
				t.Errorf("EmailTaken(own email, except self) = %v, %v; want false", taken, err)
			}
			if taken, err := tx.EmailTaken(ctx, "bob@example.com", 0); err != nil || taken {
				t.Errorf("EmailTaken(free) = %v, %v; want false", taken, err)
			}
			if h, err := tx.PasswordHash(ctx, alice.ID); err != nil || h != "argon2id$hash" {
				t.Errorf("PasswordHash = %q, %v", h, err)
			}
			_, err = tx.PasswordHash(ctx, alice.ID+1000)
			wantCode(t, "PasswordHash(missing)", err, herald.ENOTFOUND)
			return nil
		})

		// Conflicts, each in its own transaction (on PostgreSQL a failed
		// statement ends the transaction).
		for _, u := range []herald.User{
			{Username: "alice", Email: "fresh@example.com"},
			{Username: "alice2", Email: "alice@example.com"},
			{Username: "alice3", Email: "ALICE@EXAMPLE.COM"},
		} {
			err := db.Update(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, &u, "") })
			wantCode(t, "CreateUser("+u.Username+", "+u.Email+")", err, herald.ECONFLICT)
		}

		bob := createUser(t, db, "bob")
		c.Advance(time.Hour)
		alice.FirstName, alice.Email, alice.Phone, alice.SSHKey, alice.PGPKey, alice.PGPCertID = "Alicia", "alicia@example.com", "", "", "", ""
		update(t, db, func(tx *store.Tx) error { return tx.UpdateUser(ctx, &alice) })
		if !alice.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("UpdateUser set UpdatedAt %v, want %v", alice.UpdatedAt, t0.Add(time.Hour))
		}
		view(t, db, func(tx *store.Tx) error {
			got, err := tx.UserByID(ctx, alice.ID)
			if err != nil {
				return err
			}
			wantUser(t, got, alice)
			return nil
		})
		taken := bob
		taken.Email = "ALICIA@example.com"
		err := db.Update(ctx, func(tx *store.Tx) error { return tx.UpdateUser(ctx, &taken) })
		wantCode(t, "UpdateUser to another user's email (other case)", err, herald.ECONFLICT)
		ghost := bob
		ghost.ID = bob.ID + 1000
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.UpdateUser(ctx, &ghost) })
		wantCode(t, "UpdateUser(missing)", err, herald.ENOTFOUND)

		c.Advance(time.Hour)
		update(t, db, func(tx *store.Tx) error {
			if err := tx.SetPasswordHash(ctx, bob.ID, "new-hash"); err != nil {
				return err
			}
			return tx.TouchUser(ctx, bob.ID)
		})
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.SetPasswordHash(ctx, bob.ID+1000, "x") })
		wantCode(t, "SetPasswordHash(missing)", err, herald.ENOTFOUND)
		view(t, db, func(tx *store.Tx) error {
			if h, err := tx.PasswordHash(ctx, bob.ID); err != nil || h != "new-hash" {
				t.Errorf("PasswordHash after SetPasswordHash = %q, %v", h, err)
			}
			got, err := tx.UserByID(ctx, bob.ID)
			if err != nil {
				return err
			}
			if !got.UpdatedAt.Equal(t0.Add(2*time.Hour)) || !got.CreatedAt.Equal(t0) {
				t.Errorf("after TouchUser: created %v updated %v", got.CreatedAt, got.UpdatedAt)
			}
			return nil
		})

		update(t, db, func(tx *store.Tx) error { return tx.DeleteUser(ctx, bob.ID) })
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteUser(ctx, bob.ID) })
		wantCode(t, "DeleteUser twice", err, herald.ENOTFOUND)
		view(t, db, func(tx *store.Tx) error {
			_, err := tx.UserByUsername(ctx, "bob")
			wantCode(t, "UserByUsername(deleted)", err, herald.ENOTFOUND)
			if n, err := tx.CountUsers(ctx); err != nil || n != 1 {
				t.Errorf("CountUsers = %d, %v; want 1", n, err)
			}
			return nil
		})
		// The username and email are free again.
		createUser(t, db, "bob")
	})
}

func wantUser(t *testing.T, got, want herald.User) {
	t.Helper()
	g, w := got, want
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
		t.Errorf("user %s: times %v/%v, want %v/%v", want.Username, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
	}
	if g.ID != w.ID || g.Username != w.Username || g.FirstName != w.FirstName || g.LastName != w.LastName ||
		g.Email != w.Email || g.Phone != w.Phone || g.SSHKey != w.SSHKey || g.PGPKey != w.PGPKey || g.PGPCertID != w.PGPCertID {
		t.Errorf("user read back as\n%+v\nwant\n%+v", g, w)
	}
}

// TestListUsersSorted: users come sorted by username in byte order (the
// order of sort.Strings), including the punctuation usernames may have.
func TestListUsersSorted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		names := []string{"zed", "b", "a_b", "a.a", "ab", "a-c", "a1", "a9z", "10x", "ÉDITH"}
		ids := map[string]int64{}
		for _, n := range names {
			ids[n] = createUser(t, db, n).ID
		}
		want := slices.Clone(names)
		sort.Strings(want)
		view(t, db, func(tx *store.Tx) error {
			users, err := tx.ListUsers(ctx)
			if err != nil {
				return err
			}
			var got []string
			for _, u := range users {
				got = append(got, u.Username)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListUsers order %v, want %v", got, want)
			}
			byIDs, err := tx.UsersByIDs(ctx, []int64{ids["zed"], 99999, ids["a.a"], ids["ab"]})
			if err != nil {
				return err
			}
			got = nil
			for _, u := range byIDs {
				got = append(got, u.Username)
			}
			if !slices.Equal(got, []string{"a.a", "ab", "zed"}) {
				t.Errorf("UsersByIDs = %v, want [a.a ab zed] (missing skipped)", got)
			}
			// FindUsers pages in the same order, counts all that match, and
			// takes LIKE's wildcards literally.
			for _, tc := range []struct {
				q             string
				offset, limit int
				want          []string
				total         int
			}{
				{"", 3, 3, want[3:6], len(want)},
				{"", 8, 5, want[8:], len(want)},
				{"_", 0, 10, []string{"a_b"}, 1},
				{"A.", 0, 10, []string{"a.a"}, 1},
				{"%", 0, 10, nil, 0},
				{"édith", 0, 10, []string{"ÉDITH"}, 1}, // Unicode case, though username is COLLATE "C" on PostgreSQL
				{"ÉDITH", 0, 10, []string{"ÉDITH"}, 1},
				{"zed example.com", 0, 10, []string{"zed"}, 1}, // every word, anywhere
				{"example.com zed", 0, 10, []string{"zed"}, 1}, // in any order
				{"zed a_b", 0, 10, nil, 0},                     // all of them
			} {
				users, total, err := tx.FindUsers(ctx, tc.q, tc.offset, tc.limit)
				if err != nil {
					return err
				}
				got = nil
				for _, u := range users {
					got = append(got, u.Username)
				}
				if !slices.Equal(got, tc.want) || total != tc.total {
					t.Errorf("FindUsers(%q, %d, %d) = %v, %d; want %v, %d", tc.q, tc.offset, tc.limit, got, total, tc.want, tc.total)
				}
			}
			// A search is bounded: 16 different words, 512 bytes.
			many := strings.Repeat("a ", 40) + "b c d e f g h i j k l m n o p" // 16 different words
			if _, _, err := tx.FindUsers(ctx, many, 0, 10); err != nil {
				t.Errorf("FindUsers(16 words, repeated) = %v", err)
			}
			for _, q := range []string{many + " q", strings.Repeat("x", 513)} {
				if _, _, err := tx.FindUsers(ctx, q, 0, 10); herald.ErrorCode(err) != herald.EINVALID || herald.ErrorField(err) != "q" {
					t.Errorf("FindUsers(%.20q...) = %v, want EINVALID about q", q, err)
				}
			}
			return nil
		})
		var empty []herald.User
		view(t, db, func(tx *store.Tx) (err error) {
			empty, err = tx.UsersByIDs(ctx, nil)
			return err
		})
		if len(empty) != 0 {
			t.Errorf("UsersByIDs(nil) = %v", empty)
		}
	})
}

// TestEmailUniqueNonASCII: "compared without case" must hold for non-ASCII
// addresses too (net/mail accepts UTF-8 local parts), and the same on both
// backends.
func TestEmailUniqueNonASCII(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		u := herald.User{Username: "jurgen", Email: "jürgen@example.com"}
		update(t, db, func(tx *store.Tx) error { return tx.CreateUser(ctx, &u, "") })
		view(t, db, func(tx *store.Tx) error {
			taken, err := tx.EmailTaken(ctx, "JÜRGEN@example.com", 0)
			if err != nil || !taken {
				t.Errorf("EmailTaken(JÜRGEN@example.com) = %v, %v; want true (same address but for case)", taken, err)
			}
			return nil
		})
		other := herald.User{Username: "jurgen2", Email: "JÜRGEN@example.com"}
		err := db.Update(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, &other, "") })
		wantCode(t, "CreateUser with an email differing only in (non-ASCII) case", err, herald.ECONFLICT)
	})
}

func TestGroups(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		alice, bob, carol := createUser(t, db, "alice"), createUser(t, db, "bob"), createUser(t, db, "carol")
		var devs, admins, ops, empty int64
		update(t, db, func(tx *store.Tx) (err error) {
			if devs, err = tx.CreateGroup(ctx, "devs", false); err != nil {
				return err
			}
			if admins, err = tx.CreateGroup(ctx, "admin", true); err != nil {
				return err
			}
			if ops, err = tx.CreateGroup(ctx, "ops", true); err != nil {
				return err
			}
			if empty, err = tx.CreateGroup(ctx, "empty", false); err != nil {
				return err
			}
			for _, m := range [][2]int64{{devs, carol.ID}, {devs, alice.ID}, {devs, bob.ID}, {devs, alice.ID},
				{admins, alice.ID}, {ops, alice.ID}, {ops, bob.ID}, {ops, bob.ID}} {
				if err := tx.AddMember(ctx, m[0], m[1]); err != nil {
					return err
				}
			}
			return nil
		})
		// AddMember of an existing member in a later transaction is a no-op too.
		update(t, db, func(tx *store.Tx) error { return tx.AddMember(ctx, devs, alice.ID) })
		_, err := createGroup(db, "devs", true)
		wantCode(t, "CreateGroup(taken name)", err, herald.ECONFLICT)

		view(t, db, func(tx *store.Tx) error {
			g, err := tx.GroupByName(ctx, "devs")
			if err != nil {
				return err
			}
			if g.ID != devs || g.Name != "devs" || g.IsAdmin || !slices.Equal(g.Members, []string{"alice", "bob", "carol"}) {
				t.Errorf("GroupByName(devs) = %+v", g)
			}
			if id, err := tx.GroupIDByName(ctx, "ops"); err != nil || id != ops {
				t.Errorf("GroupIDByName(ops) = %d, %v; want %d", id, err, ops)
			}
			_, err = tx.GroupByName(ctx, "nope")
			wantCode(t, "GroupByName(missing)", err, herald.ENOTFOUND)
			_, err = tx.GroupIDByName(ctx, "nope")
			wantCode(t, "GroupIDByName(missing)", err, herald.ENOTFOUND)
			ids, err := tx.GroupMemberIDs(ctx, ops)
			if err != nil {
				return err
			}
			slices.Sort(ids)
			if want := sortedIDs(alice.ID, bob.ID); !slices.Equal(ids, want) {
				t.Errorf("GroupMemberIDs(ops) = %v, want %v", ids, want)
			}

			groups, err := tx.ListGroups(ctx)
			if err != nil {
				return err
			}
			want := []herald.Group{
				{Name: "admin", Members: []string{"alice"}, IsAdmin: true},
				{Name: "devs", Members: []string{"alice", "bob", "carol"}},
				{Name: "empty", Members: []string{}},
				{Name: "ops", Members: []string{"alice", "bob"}, IsAdmin: true},
			}
			if !groupsEqual(groups, want) {
				t.Errorf("ListGroups = %+v\nwant %+v", groups, want)
			}

			// fillGroups, through every read path.
			wantGroups := map[string][]string{"alice": {"admin", "devs", "ops"}, "bob": {"devs", "ops"}, "carol": {"devs"}}
			wantAdmin := map[string]bool{"alice": true, "bob": true, "carol": false}
			users, err := tx.ListUsers(ctx)
			if err != nil {
				return err
			}
			one, err := tx.UserByUsername(ctx, "carol")
			if err != nil {
				return err
			}
			byID, err := tx.UserByID(ctx, bob.ID)
			if err != nil {
				return err
			}
			byIDs, err := tx.UsersByIDs(ctx, []int64{alice.ID})
			if err != nil {
				return err
			}
			for _, u := range append(append(users, one, byID), byIDs...) {
				if !slices.Equal(u.Groups, wantGroups[u.Username]) || u.IsAdmin != wantAdmin[u.Username] {
					t.Errorf("user %s: Groups %v IsAdmin %v; want %v %v", u.Username, u.Groups, u.IsAdmin, wantGroups[u.Username], wantAdmin[u.Username])
				}
			}
			// alice is in two admin groups and counts once.
			if n, err := tx.CountAdmins(ctx); err != nil || n != 2 {
				t.Errorf("CountAdmins = %d, %v; want 2", n, err)
			}
			return nil
		})

		// Rename, toggle is_admin, remove members.
		update(t, db, func(tx *store.Tx) error {
			if err := tx.UpdateGroup(ctx, ops, "operators", false); err != nil {
				return err
			}
			if err := tx.RemoveMember(ctx, devs, carol.ID); err != nil {
				return err
			}
			return tx.RemoveMember(ctx, admins, carol.ID) // not a member: no-op
		})
		_, err = createGroup(db, "operators", false)
		wantCode(t, "CreateGroup(renamed group's new name)", err, herald.ECONFLICT)
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.UpdateGroup(ctx, devs, "admin", false) })
		wantCode(t, "UpdateGroup to a taken name", err, herald.ECONFLICT)
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.UpdateGroup(ctx, 99999, "x", false) })
		wantCode(t, "UpdateGroup(missing)", err, herald.ENOTFOUND)
		view(t, db, func(tx *store.Tx) error {
			_, err := tx.GroupByName(ctx, "ops")
			wantCode(t, "GroupByName(old name)", err, herald.ENOTFOUND)
			g, err := tx.GroupByName(ctx, "operators")
			if err != nil || g.ID != ops || g.IsAdmin || !slices.Equal(g.Members, []string{"alice", "bob"}) {
				t.Errorf("GroupByName(operators) = %+v, %v", g, err)
			}
			b, err := tx.UserByID(ctx, bob.ID)
			if err != nil || !slices.Equal(b.Groups, []string{"devs", "operators"}) || b.IsAdmin {
				t.Errorf("bob after the rename: %v admin=%v, %v", b.Groups, b.IsAdmin, err)
			}
			c, err := tx.UserByID(ctx, carol.ID)
			if err != nil || len(c.Groups) != 0 || c.Groups == nil {
				t.Errorf("carol after removal: Groups %#v, %v; want []", c.Groups, err)
			}
			if n, err := tx.CountAdmins(ctx); err != nil || n != 1 {
				t.Errorf("CountAdmins = %d, %v; want 1", n, err)
			}
			return nil
		})

		// Deleting a group drops its memberships; deleting a user drops theirs.
		update(t, db, func(tx *store.Tx) error {
			if err := tx.DeleteGroup(ctx, devs); err != nil {
				return err
			}
			return tx.DeleteUser(ctx, bob.ID)
		})
		err = db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteGroup(ctx, devs) })
		wantCode(t, "DeleteGroup twice", err, herald.ENOTFOUND)
		view(t, db, func(tx *store.Tx) error {
			ids, err := tx.GroupMemberIDs(ctx, devs)
			if err != nil || len(ids) != 0 {
				t.Errorf("GroupMemberIDs(deleted group) = %v, %v", ids, err)
			}
			a, err := tx.UserByID(ctx, alice.ID)
			if err != nil || !slices.Equal(a.Groups, []string{"admin", "operators"}) || !a.IsAdmin {
				t.Errorf("alice after deletes: %v admin=%v, %v", a.Groups, a.IsAdmin, err)
			}
			g, err := tx.GroupByName(ctx, "operators")
			if err != nil || !slices.Equal(g.Members, []string{"alice"}) {
				t.Errorf("operators after deleting bob: %+v, %v", g, err)
			}
			if ids, err := tx.GroupMemberIDs(ctx, empty); err != nil || len(ids) != 0 {
				t.Errorf("GroupMemberIDs(empty group) = %v, %v", ids, err)
			}
			return nil
		})
		// The name is free again.
		if _, err := createGroup(db, "devs", false); err != nil {
			t.Errorf("re-create deleted group: %v", err)
		}
	})
}

func createGroup(db *store.DB, name string, admin bool) (int64, error) {
	var id int64
	err := db.Update(ctx, func(tx *store.Tx) (err error) {
		id, err = tx.CreateGroup(ctx, name, admin)
		return err
	})
	return id, err
}

func sortedIDs(ids ...int64) []int64 {
	slices.Sort(ids)
	return ids
}

func groupsEqual(a, b []herald.Group) bool {
	return slices.EqualFunc(a, b, func(x, y herald.Group) bool {
		return x.Name == y.Name && x.IsAdmin == y.IsAdmin && x.Members != nil && slices.Equal(x.Members, y.Members)
	})
}

// TestDeleteUserCascades: a user's memberships, sessions, tokens and jobs go
// with them.
func TestDeleteUserCascades(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db *store.DB) {
		useClock(db)
		alice, bob := createUser(t, db, "alice"), createUser(t, db, "bob")
		var job int64
		update(t, db, func(tx *store.Tx) (err error) {
			g, err := tx.CreateGroup(ctx, "devs", false)
			if err != nil {
				return err
			}
			for _, u := range []int64{alice.ID, bob.ID} {
				if err := tx.AddMember(ctx, g, u); err != nil {
					return err
				}
			}
			if err := tx.CreateSession(ctx, "sess-alice", alice.ID, t0.Add(time.Hour)); err != nil {
				return err
			}
			if _, err := tx.CreateAPIToken(ctx, alice.ID, "ci", "tok-alice"); err != nil {
				return err
			}
			job, err = tx.CreateJob(ctx, alice.ID, "station")
			return err
		})
		update(t, db, func(tx *store.Tx) error { return tx.DeleteUser(ctx, alice.ID) })
		view(t, db, func(tx *store.Tx) error {
			g, err := tx.GroupByName(ctx, "devs")
			if err != nil || !slices.Equal(g.Members, []string{"bob"}) {
				t.Errorf("devs after deleting alice: %+v, %v", g, err)
			}
			_, err = tx.SessionPrincipal(ctx, "sess-alice")
			wantCode(t, "session of a deleted user", err, herald.EUNAUTHORIZED)
			_, err = tx.APITokenPrincipal(ctx, "tok-alice")
			wantCode(t, "API token of a deleted user", err, herald.EUNAUTHORIZED)
			_, err = tx.JobByID(ctx, job)
			wantCode(t, "job of a deleted user", err, herald.ENOTFOUND)
			_, err = tx.NextPendingJob(ctx, "station")
			wantCode(t, "NextPendingJob after the only job's user was deleted", err, herald.ENOTFOUND)
			return nil
		})
	})
}

// TestPostgresCollation: sorted means the same on every backend (byte
// order, as SQLite and sort.Strings have it) even when the PostgreSQL
// database's default collation is a language's, as on most installations
// (initdb takes the system locale). The test server's databases use C.UTF-8,
// so this test makes its own database with an en-US collation.
func TestPostgresCollation(t *testing.T) {
	t.Parallel()
	base := testdb.Postgres(t) // skips (or fails under CI) without a server
	admin, err := sql.Open("pgx", testdb.ServerDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := "herald_t_icu_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"); err != nil {
		t.Fatalf("create a database with an en-US collation: %v", err)
	}
	t.Cleanup(func() {
		conn, err := sql.Open("pgx", testdb.ServerDSN())
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db := openMigrated(t, u.String())

	names := []string{"zed", "b", "a_b", "a.a", "ab", "a-c", "a1", "a9z", "10x"}
	want := slices.Clone(names)
	sort.Strings(want)
	update(t, db, func(tx *store.Tx) error {
		var ids []int64
		for _, n := range names {
			u := herald.User{Username: n, Email: n + "@example.com"}
			if err := tx.CreateUser(ctx, &u, ""); err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		for _, n := range names {
			g, err := tx.CreateGroup(ctx, "g"+n, false)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := tx.AddMember(ctx, g, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	wantGroups := make([]string, len(want))
	for i, n := range want {
		wantGroups[i] = "g" + n
	}
	view(t, db, func(tx *store.Tx) error {
		users, err := tx.ListUsers(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, u := range users {
			got = append(got, u.Username)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListUsers order %v, want %v (byte order, as on SQLite)", got, want)
		}
		if !slices.Equal(users[0].Groups, wantGroups) {
			t.Errorf("user.Groups order %v, want %v", users[0].Groups, wantGroups)
		}
		g, err := tx.GroupByName(ctx, "gab")
		if err != nil {
			return err
		}
		if !slices.Equal(g.Members, want) {
			t.Errorf("group members order %v, want %v", g.Members, want)
		}
		groups, err := tx.ListGroups(ctx)
		if err != nil {
			return err
		}
		got = nil
		for _, g := range groups {
			got = append(got, g.Name)
		}
		if !slices.Equal(got, wantGroups) {
			t.Errorf("ListGroups order %v, want %v", got, wantGroups)
		}
		return nil
	})
}
