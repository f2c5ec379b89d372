package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/heraldhq/herald"
)

// GroupRow is a group as stored, with its id.
type GroupRow struct {
	ID int64
	herald.Group
}

// GroupByName returns the group with its members (sorted usernames).
// Returns ENOTFOUND if there is none.
func (tx *Tx) GroupByName(ctx context.Context, name string) (GroupRow, error) {
	var g GroupRow
	err := tx.queryRow(ctx, `SELECT id, name, is_admin FROM groups WHERE name = $1`, name).Scan(&g.ID, &g.Name, &g.IsAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return g, herald.Errorf(herald.ENOTFOUND, "no group named %q", name)
	}
	if err != nil {
		return g, err
	}
	g.Members, err = tx.groupMembers(ctx, g.ID)
	return g, err
}

func (tx *Tx) groupMembers(ctx context.Context, groupID int64) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = $1 ORDER BY u.username`, groupID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	members := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		members = append(members, name)
	}
	return members, rows.Err()
}

// GroupMemberIDs returns the user ids of a group's members.
func (tx *Tx) GroupMemberIDs(ctx context.Context, groupID int64) ([]int64, error) {
	rows, err := tx.query(ctx, `SELECT user_id FROM group_members WHERE group_id = $1`, groupID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ListGroups returns every group with its members, sorted by name.
func (tx *Tx) ListGroups(ctx context.Context) ([]herald.Group, error) {
	rows, err := tx.query(ctx, `SELECT id, name, is_admin FROM groups ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var rs []GroupRow
	for rows.Next() {
		var g GroupRow
		if err := rows.Scan(&g.ID, &g.Name, &g.IsAdmin); err != nil {
			rows.Close()
			return nil, err
		}
		rs = append(rs, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	groups := make([]herald.Group, 0, len(rs))
	for _, g := range rs {
		g.Members, err = tx.groupMembers(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		groups = append(groups, g.Group)
	}
	return groups, nil
}

// CreateGroup inserts a group without members and returns its id.
// Returns ECONFLICT if the name is taken.
func (tx *Tx) CreateGroup(ctx context.Context, name string, isAdmin bool) (int64, error) {
	return tx.insert(ctx, `INSERT INTO groups (name, is_admin, created_at) VALUES ($1, $2, $3)`, name, isAdmin, micros(tx.Now))
}

// UpdateGroup renames a group and sets its admin flag.
func (tx *Tx) UpdateGroup(ctx context.Context, id int64, name string, isAdmin bool) error {
	res, err := tx.exec(ctx, `UPDATE groups SET name = $1, is_admin = $2 WHERE id = $3`, name, isAdmin, id)
	if err != nil {
		return err
	}
	return mustAffect(res, "no group with id %d", id)
}

// DeleteGroup deletes a group and its memberships.
func (tx *Tx) DeleteGroup(ctx context.Context, id int64) error {
	res, err := tx.exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
	if err != nil {
		return err
	}
	return mustAffect(res, "no group with id %d", id)
}

// AddMember puts a user in a group; adding an existing member does nothing.
func (tx *Tx) AddMember(ctx context.Context, groupID, userID int64) error {
	_, err := tx.exec(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, userID)
	return err
}

// RemoveMember takes a user out of a group; removing a non-member does nothing.
func (tx *Tx) RemoveMember(ctx context.Context, groupID, userID int64) error {
	_, err := tx.exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
	return err
}

// GroupIDByName returns a group's id. Returns ENOTFOUND if there is none.
func (tx *Tx) GroupIDByName(ctx context.Context, name string) (int64, error) {
	var id int64
	err := tx.queryRow(ctx, `SELECT id FROM groups WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, herald.Errorf(herald.ENOTFOUND, "no group named %q", name)
	}
	return id, err
}
