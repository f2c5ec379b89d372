package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald"
)

const userColumns = `id, username, first_name, last_name, email, phone, ssh_key, pgp_key, pgp_cert_id, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (herald.User, error) {
	var u herald.User
	var created, updated int64
	err := row.Scan(&u.ID, &u.Username, &u.FirstName, &u.LastName, &u.Email, &u.Phone,
		&u.SSHKey, &u.PGPKey, &u.PGPCertID, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	u.Groups = []string{}
	return u, err
}

// UserByUsername returns the user with that username, with groups and
// is_admin filled in. Returns ENOTFOUND if there is none.
func (tx *Tx) UserByUsername(ctx context.Context, username string) (herald.User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return u, herald.Errorf(herald.ENOTFOUND, "no user named %q", username)
	}
	if err != nil {
		return u, err
	}
	return u, tx.fillGroups(ctx, []*herald.User{&u})
}

// UserByEmail returns the user with that email address, compared without
// case, with groups and is_admin filled in. Returns ENOTFOUND if there is
// none.
func (tx *Tx) UserByEmail(ctx context.Context, email string) (herald.User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`, emailKey(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, herald.Errorf(herald.ENOTFOUND, "no user with that email")
	}
	if err != nil {
		return u, err
	}
	return u, tx.fillGroups(ctx, []*herald.User{&u})
}

// UserByID returns the user with that id. Returns ENOTFOUND if there is none.
func (tx *Tx) UserByID(ctx context.Context, id int64) (herald.User, error) {
	u, err := scanUser(tx.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, herald.Errorf(herald.ENOTFOUND, "no user with id %d", id)
	}
	if err != nil {
		return u, err
	}
	return u, tx.fillGroups(ctx, []*herald.User{&u})
}

// UsersByIDs returns the users with those ids (missing ones are skipped),
// sorted by username.
func (tx *Tx) UsersByIDs(ctx context.Context, ids []int64) ([]herald.User, error) {
	var users []herald.User
	for _, id := range ids {
		u, err := tx.UserByID(ctx, id)
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	return users, nil
}

// ListUsers returns every user, sorted by username.
func (tx *Tx) ListUsers(ctx context.Context) ([]herald.User, error) {
	rows, err := tx.query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []herald.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*herald.User, len(users))
	for i := range users {
		ptrs[i] = &users[i]
	}
	return users, tx.fillGroups(ctx, ptrs)
}

// SSHKeys returns every user's SSH public key, by username; users with
// none are left out.
func (tx *Tx) SSHKeys(ctx context.Context) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT ssh_key FROM users WHERE ssh_key <> '' ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// fillGroups sets Groups (sorted names) and IsAdmin on each user.
func (tx *Tx) fillGroups(ctx context.Context, users []*herald.User) error {
	if len(users) == 0 {
		return nil
	}
	query := `SELECT m.user_id, g.name, g.is_admin FROM group_members m JOIN groups g ON g.id = m.group_id`
	var args []any
	if len(users) == 1 {
		query += ` WHERE m.user_id = $1`
		args = append(args, users[0].ID)
	}
	query += ` ORDER BY g.name`
	rows, err := tx.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := make(map[int64]*herald.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	for rows.Next() {
		var uid int64
		var name string
		var admin bool
		if err := rows.Scan(&uid, &name, &admin); err != nil {
			return err
		}
		if u := byID[uid]; u != nil {
			u.Groups = append(u.Groups, name)
			u.IsAdmin = u.IsAdmin || admin
		}
	}
	return rows.Err()
}

// UsernameTaken reports whether a user with that username exists.
func (tx *Tx) UsernameTaken(ctx context.Context, username string) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT count(*) FROM users WHERE username = $1`, username).Scan(&n)
	return n > 0, err
}

// EmailTaken reports whether another user (not exceptID) has that email,
// compared without case.
func (tx *Tx) EmailTaken(ctx context.Context, email string, exceptID int64) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT count(*) FROM users WHERE email_key = $1 AND id <> $2`, emailKey(email), exceptID).Scan(&n)
	return n > 0, err
}

// CreateUser inserts u with the given password hash ("" for no password)
// and sets u.ID, CreatedAt and UpdatedAt. Returns ECONFLICT naming the
// field if the username or email is taken.
func (tx *Tx) CreateUser(ctx context.Context, u *herald.User, passwordHash string) error {
	var id int64
	err := tx.queryRow(ctx, insertUser, tx.userRow(u, passwordHash)...).Scan(&id)
	if err != nil {
		return tx.userConflict(err, u)
	}
	u.ID = id
	return nil
}

// CreateUserDeferred is CreateUser for a change that does not use u.ID
// before it commits: in a group commit batch on PostgreSQL the INSERT
// goes with the batch's next round trip (writebatch.go), and u.ID is set
// then, before the commit. A taken username or email then fails the
// change with the same ECONFLICT, when the INSERT is sent.
func (tx *Tx) CreateUserDeferred(ctx context.Context, u *herald.User, passwordHash string) error {
	if tx.batch == nil || tx.observer != nil {
		return tx.CreateUser(ctx, u, passwordHash)
	}
	return tx.deferStmt(insertUser, tx.userRow(u, passwordHash), func(row pgx.Row) error {
		if err := row.Scan(&u.ID); err != nil {
			return tx.userConflict(err, u)
		}
		return nil
	})
}

const insertUser = `INSERT INTO users (username, first_name, last_name, email, email_key, phone, password_hash, ssh_key, pgp_key, pgp_cert_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`

// userRow stamps a new user u as CreateUser stores it and returns
// insertUser's parameters.
func (tx *Tx) userRow(u *herald.User, passwordHash string) []any {
	u.CreatedAt, u.UpdatedAt = tx.Now, tx.Now
	if u.Groups == nil {
		u.Groups = []string{}
	}
	return []any{u.Username, u.FirstName, u.LastName, u.Email, emailKey(u.Email), u.Phone, passwordHash, u.SSHKey, u.PGPKey, u.PGPCertID, micros(tx.Now)}
}

// UpdateUser writes u's profile and key fields and sets UpdatedAt.
// Returns ENOTFOUND if the user does not exist, ECONFLICT if the email is
// another user's.
func (tx *Tx) UpdateUser(ctx context.Context, u *herald.User) error {
	// Not tx.exec, which would replace a unique violation with a message
	// that does not name the field.
	res, err := tx.execRaw(ctx, `UPDATE users SET first_name = $1, last_name = $2, email = $3, email_key = $10, phone = $4,
		ssh_key = $5, pgp_key = $6, pgp_cert_id = $7, updated_at = $8 WHERE id = $9`,
		u.FirstName, u.LastName, u.Email, u.Phone, u.SSHKey, u.PGPKey, u.PGPCertID, micros(tx.Now), u.ID, emailKey(u.Email))
	if err != nil {
		return tx.userConflict(err, u)
	}
	u.UpdatedAt = tx.Now
	return mustAffect(res, "no user with id %d", u.ID)
}

// userConflict turns a violation of the users table's unique indexes into
// the ECONFLICT a client needs to fix, naming the field; other errors pass
// unchanged. The unique indexes decide, rather than reads before writing:
// writes run in the group committer, where every statement saved counts.
func (tx *Tx) userConflict(err error, u *herald.User) error {
	switch {
	case !tx.dialect.isUniqueViolation(err):
		return err
	case strings.Contains(err.Error(), "email_key"): // SQLite: users.email_key; PostgreSQL: users_email_key
		return herald.FieldErrorf(herald.ECONFLICT, "email", "%q is used by another user", u.Email)
	default:
		return herald.FieldErrorf(herald.ECONFLICT, "username", "%q is taken", u.Username)
	}
}

// TouchUser sets a user's updated_at, for changes made through groups.
func (tx *Tx) TouchUser(ctx context.Context, id int64) error {
	_, err := tx.exec(ctx, `UPDATE users SET updated_at = $1 WHERE id = $2`, micros(tx.Now), id)
	return err
}

// PasswordHash returns the stored password hash of a user ("" if none).
func (tx *Tx) PasswordHash(ctx context.Context, userID int64) (string, error) {
	var h string
	err := tx.queryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", herald.Errorf(herald.ENOTFOUND, "no user with id %d", userID)
	}
	return h, err
}

// SetPasswordHash replaces a user's password hash.
func (tx *Tx) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	res, err := tx.exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
	if err != nil {
		return err
	}
	return mustAffect(res, "no user with id %d", userID)
}

// DeleteUser deletes a user with their memberships, sessions, tokens and
// jobs. Returns ENOTFOUND if the user does not exist.
func (tx *Tx) DeleteUser(ctx context.Context, id int64) error {
	res, err := tx.exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return err
	}
	return mustAffect(res, "no user with id %d", id)
}

// CountAdmins returns how many users belong to at least one admin group.
func (tx *Tx) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT count(DISTINCT m.user_id) FROM group_members m
		JOIN groups g ON g.id = m.group_id WHERE g.is_admin`).Scan(&n)
	return n, err
}

// CountUsers returns the number of users.
func (tx *Tx) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

func mustAffect(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return herald.Errorf(herald.ENOTFOUND, format, args...)
	}
	return nil
}

// emailKey is the form of an email address that uniqueness is checked on:
// addresses differing only in case (any script) are the same.
func emailKey(email string) string { return strings.ToLower(email) }

// FindUsers returns one page of the users whose username, name or email
// contain every word of q (searchWords; every user for ""), sorted by
// username, and how many match in all. offset and limit pick the page.
// Returns EINVALID (q) for a search too long (searchWords).
func (tx *Tx) FindUsers(ctx context.Context, q string, offset, limit int) ([]herald.User, int, error) {
	where, args, err := tx.searchWords(`username || ' ' || first_name || ' ' || last_name || ' ' || email`, q, []any{})
	if err != nil {
		return nil, 0, err
	}
	if where != "" {
		where = ` WHERE true` + where
	}
	var total int
	if err := tx.queryRow(ctx, `SELECT count(*) FROM users`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	n := len(args)
	rows, err := tx.query(ctx, `SELECT `+userColumns+` FROM users`+where+` ORDER BY username LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	users := []herald.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	ptrs := make([]*herald.User, len(users))
	for i := range users {
		ptrs[i] = &users[i]
	}
	return users, total, tx.fillGroups(ctx, ptrs)
}

// likeEscaper escapes LIKE's wildcards (with '\', the ESCAPE character) so
// a search for "a_b" or "50%" finds exactly that.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
