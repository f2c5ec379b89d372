package directory

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/keys"
	"github.com/heraldhq/herald/internal/store"
)

// NewUser is the input of CreateUser.
type NewUser struct {
	Username  string
	FirstName string
	LastName  string
	Email     string
	Phone     string
	// Password is optional: a user without one cannot log in until an
	// admin sets it.
	Password string
}

// UserChange is the input of UpdateUser: nil fields stay as they are.
type UserChange struct {
	FirstName, LastName, Email, Phone *string
	SSHKey, PGPKey, PGPCertID         *string
	// Groups replaces the user's groups; only admins may change them.
	Groups *[]string
}

// ListUsers returns every user, sorted by username. Admins only.
func (s *Service) ListUsers(ctx context.Context, a Actor) ([]herald.User, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var users []herald.User
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		users, err = tx.ListUsers(ctx)
		return err
	})
	return users, err
}

// GetUser returns one user. Admins, or the user themself.
// Returns ENOTFOUND if there is no such user.
func (s *Service) GetUser(ctx context.Context, a Actor, username string) (herald.User, error) {
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return herald.User{}, err
	}
	var u herald.User
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		u, err = userNamed(ctx, tx, username)
		return err
	})
	return u, err
}

// Me returns the logged-in user. Returns EUNAUTHORIZED for anonymous
// callers and EFORBIDDEN for stations, which have no profile.
func (s *Service) Me(ctx context.Context, a Actor) (herald.User, error) {
	if err := RequireUser(a); err != nil {
		return herald.User{}, err
	}
	return s.GetUser(ctx, a, a.Username)
}

// UsernameAvailable returns nil if username is valid and free, EINVALID
// otherwise. Admins only.
func (s *Service) UsernameAvailable(ctx context.Context, a Actor, username string) error {
	if err := RequireAdmin(a); err != nil {
		return err
	}
	if err := validateName("username", username); err != nil {
		return err
	}
	return s.db.View(ctx, func(tx *store.Tx) error {
		taken, err := tx.UsernameTaken(ctx, username)
		if err == nil && taken {
			err = herald.Invalid("username", "%q is taken", username)
		}
		return err
	})
}

// CreateUser adds a user and fires user_created. Admins only.
// Returns EINVALID for bad input and ECONFLICT for a taken username or email.
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (herald.User, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.User{}, err
	}
	u := herald.User{
		Username: in.Username, FirstName: in.FirstName, LastName: in.LastName,
		Email: strings.TrimSpace(in.Email), Phone: strings.TrimSpace(in.Phone), Groups: []string{},
	}
	var errs herald.Errors
	errs.Add(validateName("username", u.Username))
	errs.Add(validateProfile(&u))
	if in.Password != "" {
		errs.Add(validatePassword("password", in.Password))
	}
	if err := errs.Err(); err != nil {
		return u, err
	}
	var hash string
	if in.Password != "" {
		var err error
		if hash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			return u, err
		}
	}
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		// Nothing below needs u.ID before the commit.
		if err := tx.CreateUserDeferred(ctx, &u, hash); err != nil {
			return err
		}
		return emit(ctx, tx, a, herald.EventUserCreated, userSubject(u.Username), renderUser(u), nil)
	})
	return u, err
}

// validateProfile checks and normalises the fields a user may edit, and
// returns every field's error at once. Package keys already names the
// field of a bad key.
func validateProfile(u *herald.User) error {
	var errs herald.Errors
	for _, f := range []struct {
		name, value string
	}{{"first_name", u.FirstName}, {"last_name", u.LastName}} {
		errs.Add(validateText(f.name, f.value, 128))
	}
	errs.Add(validateEmail(u.Email))
	errs.Add(validatePhone(u.Phone))
	u.SSHKey = strings.TrimSpace(u.SSHKey)
	if u.SSHKey != "" {
		_, err := keys.ParseSSH(u.SSHKey)
		errs.Add(err)
	}
	errs.Add(checkPGP(u))
	return errs.Err()
}

// checkPGP checks the PGP key and its fingerprint, filling the fingerprint
// in when only the key is given.
func checkPGP(u *herald.User) error {
	u.PGPKey = strings.TrimSpace(u.PGPKey)
	if u.PGPKey != "" && strings.TrimSpace(u.PGPCertID) == "" {
		// A key without its fingerprint: fill it in rather than make the
		// user copy it from elsewhere.
		k, err := keys.ParsePGP(u.PGPKey)
		if err != nil {
			return err
		}
		u.PGPCertID = k.Fingerprint
	}
	fpr, err := keys.CheckPGP(u.PGPKey, u.PGPCertID)
	if err != nil {
		return err
	}
	u.PGPCertID = fpr
	return nil
}

// UpdateUser changes a user's profile, keys and (admins only) groups, and
// fires user_modified if what receivers see changed. Admins, or the user
// themself for everything but groups.
// Returns ENOTFOUND, EINVALID, ECONFLICT (email taken) or EFORBIDDEN.
func (s *Service) UpdateUser(ctx context.Context, a Actor, username string, ch UserChange) (herald.User, error) {
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return herald.User{}, err
	}
	var u herald.User
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = userNamed(ctx, tx, username); err != nil {
			return err
		}
		before := u
		snap, err := takeSnapshot(ctx, tx, []int64{u.ID})
		if err != nil {
			return err
		}
		for _, f := range []struct {
			dst *string
			src *string
		}{{&u.FirstName, ch.FirstName}, {&u.LastName, ch.LastName}, {&u.Email, ch.Email}, {&u.Phone, ch.Phone},
			{&u.SSHKey, ch.SSHKey}, {&u.PGPKey, ch.PGPKey}, {&u.PGPCertID, ch.PGPCertID}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		u.Email, u.Phone = strings.TrimSpace(u.Email), strings.TrimSpace(u.Phone)
		if err := validateProfile(&u); err != nil {
			return err
		}
		if !sameProfile(u, before) {
			if err := tx.UpdateUser(ctx, &u); err != nil {
				return err
			}
		}
		var changedGroups []string
		if ch.Groups != nil {
			want := normalizeNames(*ch.Groups)
			if !slices.Equal(want, before.Groups) && !a.IsAdmin {
				return herald.FieldErrorf(herald.EFORBIDDEN, "groups", "only admins may change group membership")
			}
			if changedGroups, err = setUserGroups(ctx, tx, u.ID, before.Groups, want); err != nil {
				return err
			}
			if err := ensureAdminLeft(ctx, tx); err != nil {
				return err
			}
		}
		if err := snap.emitChanged(ctx, tx, a); err != nil {
			return err
		}
		for _, name := range changedGroups {
			g, err := tx.GroupByName(ctx, name)
			if err != nil {
				return err
			}
			joined := slices.Contains(g.Members, u.Username)
			if err := emit(ctx, tx, a, herald.EventGroupModified, groupSubject(g.Name), renderGroup(g.Group),
				renderGroup(groupBefore(g.Group, u.Username, joined))); err != nil {
				return err
			}
		}
		u, err = tx.UserByID(ctx, u.ID)
		return err
	})
	return u, err
}

func sameProfile(a, b herald.User) bool {
	return a.FirstName == b.FirstName && a.LastName == b.LastName && a.Email == b.Email && a.Phone == b.Phone &&
		a.SSHKey == b.SSHKey && a.PGPKey == b.PGPKey && a.PGPCertID == b.PGPCertID
}

// normalizeNames sorts and de-duplicates names.
func normalizeNames(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}

// setUserGroups moves a user from the groups in have to those in want (both
// sorted) and returns the names of the groups whose membership changed.
// Returns EINVALID naming a group that does not exist.
func setUserGroups(ctx context.Context, tx *store.Tx, userID int64, have, want []string) ([]string, error) {
	var changed []string
	for _, name := range want {
		if slices.Contains(have, name) {
			continue
		}
		gid, err := groupIDNamed(ctx, tx, name)
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return nil, herald.Invalid("groups", "no group named %q", name)
		}
		if err != nil {
			return nil, err
		}
		if err := tx.AddMember(ctx, gid, userID); err != nil {
			return nil, err
		}
		changed = append(changed, name)
	}
	for _, name := range have {
		if slices.Contains(want, name) {
			continue
		}
		gid, err := tx.GroupIDByName(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := tx.RemoveMember(ctx, gid, userID); err != nil {
			return nil, err
		}
		changed = append(changed, name)
	}
	slices.Sort(changed)
	return changed, nil
}

// DeleteUser removes a user and fires user_deleted (and user_modified for
// nobody: the user is gone). Admins only. The last admin cannot be deleted.
// Returns ENOTFOUND or EINVALID.
func (s *Service) DeleteUser(ctx context.Context, a Actor, username string) error {
	if err := RequireAdmin(a); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		if err := ensureAdminLeft(ctx, tx); herald.ErrorCode(err) == herald.EINVALID {
			return herald.Errorf(herald.EINVALID, "%q is the last admin and cannot be deleted; make another user an admin first", username)
		} else if err != nil {
			return err
		}
		if err := emit(ctx, tx, a, herald.EventUserDeleted, userSubject(u.Username), mustJSON(map[string]string{"username": u.Username}), renderUser(u)); err != nil {
			return err
		}
		// The user's groups lost a member.
		for _, name := range u.Groups {
			g, err := tx.GroupByName(ctx, name)
			if err != nil {
				return err
			}
			if err := emit(ctx, tx, a, herald.EventGroupModified, groupSubject(g.Name), renderGroup(g.Group),
				renderGroup(groupBefore(g.Group, u.Username, false))); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetPassword changes a user's password. Admins may set anyone's; a user
// may set their own with the old password, from the client address from.
// The old password is checked as a login's password is: counted under the
// same throttling keys (username and address), so a stolen session cannot
// guess it faster than a login could. A password changed by its owner ends
// their other sessions (the one that changed it stays); one set by an
// admin for someone else ends all of that user's sessions.
// Returns EINVALID (short password, wrong old password), EFORBIDDEN,
// ENOTFOUND, ETOOMANY (throttled, or too many password checks at once) or
// ECONFLICT (the password changed meanwhile).
func (s *Service) SetPassword(ctx context.Context, a Actor, username, oldPassword, newPassword string, from netip.Addr) error {
	if err := RequireSelfOrAdmin(a, username); err != nil {
		return err
	}
	// Every field error that needs no password check is reported at once,
	// so the form shows them together. The old password is checked against
	// its hash only when the rest is valid: that check counts against the
	// login throttling keys, and an input bound to fail anyway must not
	// spend an attempt. Errors come in the form's order: old, then new.
	var errs herald.Errors
	if !a.IsAdmin {
		if oldPassword == "" {
			errs.Add(invalid("old_password", "is required to change your own password"))
		} else if len(oldPassword) > maxPasswordBytes {
			errs.Add(invalid("old_password", "is not your current password"))
		}
	}
	errs.Add(validatePassword("new_password", newPassword))
	if err := errs.Err(); err != nil {
		return err
	}
	// The old password is checked outside any transaction (a check takes
	// tens of milliseconds); the change then applies only if the hash it
	// was checked against is still the one stored.
	var oldHash string
	if !a.IsAdmin {
		var err error
		if oldHash, err = s.checkOwnPassword(ctx, username, oldPassword, from); err != nil {
			return err
		}
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		if !a.IsAdmin {
			now, err := tx.PasswordHash(ctx, u.ID)
			if err != nil {
				return err
			}
			if now != oldHash {
				return herald.Errorf(herald.ECONFLICT, "the password was changed meanwhile; try again")
			}
		}
		if err := tx.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return err
		}
		if err := audit(ctx, tx, a, herald.AuditPasswordChanged, userSubject(u.Username), ""); err != nil {
			return err
		}
		if a.UserID == u.ID {
			// Whoever else was logged in as them is out; they stay.
			return tx.DeleteUserSessionsExcept(ctx, u.ID, a.session)
		}
		// Someone else reset it: whoever was logged in as them is out.
		return tx.DeleteUserSessions(ctx, u.ID)
	})
}

// checkOwnPassword checks a user's password before they change it, as a
// login checks one: the check is counted against the login throttling keys
// of username and from first (ETOOMANY when they are full), a wrong
// password is recorded as a failed login, and the right one takes its
// attempt back and forgives that key's failures. It returns the hash the
// password was checked against. Returns EINVALID (old_password) when the
// password is wrong, ENOTFOUND or ETOOMANY.
func (s *Service) checkOwnPassword(ctx context.Context, username, pw string, from netip.Addr) (string, error) {
	userKey, addrKey := throttleKeys(username, from)
	deadline := time.Now().Add(s.limits.HashWait)
	if err := s.countLogin(ctx, userKey, addrKey, deadline); err != nil {
		return "", err
	}
	var hash string
	err := s.db.View(ctx, func(tx *store.Tx) error {
		u, err := userNamed(ctx, tx, username)
		if err == nil {
			hash, err = tx.PasswordHash(ctx, u.ID)
		}
		return err
	})
	if err != nil {
		s.uncountLogin(userKey, addrKey)
		return "", err
	}
	ok, err := s.hasher.VerifyBy(ctx, deadline, hash, pw)
	if err != nil {
		s.uncountLogin(userKey, addrKey)
		return "", err
	}
	if !ok {
		s.recordLoginFailure(userKey, addrKey)
		return "", invalid("old_password", "is not your current password")
	}
	s.forgiveLoginFailures(userKey, addrKey)
	return hash, nil
}

// AuthorizedKeys returns SSH public keys for sshd's AuthorizedKeysCommand,
// filtered as Defguard's endpoint filters them: with a username, that
// user's key; with a group, its members' keys; with both, the user's key
// only if the user is in the group; with neither, every user's key. Public
// keys are not secret and sshd calls without credentials, so anyone may
// ask. An unknown user or group has no keys. A name given must be one a
// user or group can have (EINVALID otherwise).
func (s *Service) AuthorizedKeys(ctx context.Context, username, group string) ([]string, error) {
	if username != "" {
		if err := validateName("username", username); err != nil {
			return nil, err
		}
	}
	if group != "" {
		if err := validateName("group", group); err != nil {
			return nil, err
		}
	}
	var out []string
	err := s.db.View(ctx, func(tx *store.Tx) error {
		if username == "" && group == "" {
			var err error
			out, err = tx.SSHKeys(ctx)
			return err
		}
		users, err := keyHolders(ctx, tx, username, group)
		for _, u := range users {
			if u.SSHKey != "" {
				out = append(out, u.SSHKey)
			}
		}
		return err
	})
	return out, err
}

// keyHolders returns the users AuthorizedKeys answers for, by username:
// the named user, the named group's members, or the named user if in the
// named group. A named user or group that does not exist has none.
func keyHolders(ctx context.Context, tx *store.Tx, username, group string) ([]herald.User, error) {
	var users []herald.User
	if username != "" {
		u, err := tx.UserByUsername(ctx, username)
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		users = []herald.User{u}
	}
	if group == "" {
		return users, nil
	}
	g, err := tx.GroupByName(ctx, group)
	if herald.ErrorCode(err) == herald.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids, err := tx.GroupMemberIDs(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	if username == "" {
		return tx.UsersByIDs(ctx, ids)
	}
	if !slices.Contains(ids, users[0].ID) {
		return nil, nil
	}
	return users, nil
}

// FindUsers returns one page of the users whose username, names and
// email contain every word of q (all for ""), sorted by username, with
// how many match in all. Admins only. Returns EINVALID (q: too long).
func (s *Service) FindUsers(ctx context.Context, a Actor, q string, offset, limit int) ([]herald.User, int, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, 0, err
	}
	var users []herald.User
	var total int
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		users, total, err = tx.FindUsers(ctx, q, max(offset, 0), max(limit, 1))
		return err
	})
	return users, total, err
}
