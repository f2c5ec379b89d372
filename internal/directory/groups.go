package directory

import (
	"context"
	"slices"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// ListGroups returns every group, sorted by name. Admins only.
func (s *Service) ListGroups(ctx context.Context, a Actor) ([]herald.Group, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var groups []herald.Group
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		groups, err = tx.ListGroups(ctx)
		return err
	})
	return groups, err
}

// GetGroup returns one group. Admins only. Returns ENOTFOUND.
func (s *Service) GetGroup(ctx context.Context, a Actor, name string) (herald.Group, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Group{}, err
	}
	var g store.GroupRow
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		g, err = groupNamed(ctx, tx, name)
		return err
	})
	return g.Group, err
}

// CreateGroup adds a group with the given members and fires group_created,
// then user_modified for each member. Admins only.
// Returns EINVALID (bad name, unknown member) or ECONFLICT (name taken).
func (s *Service) CreateGroup(ctx context.Context, a Actor, in herald.Group) (herald.Group, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Group{}, err
	}
	if err := validateName("name", in.Name); err != nil {
		return herald.Group{}, err
	}
	var out herald.Group
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		memberIDs, err := resolveMembers(ctx, tx, in.Members)
		if err != nil {
			return err
		}
		if _, err := tx.GroupIDByName(ctx, in.Name); err == nil {
			return herald.FieldErrorf(herald.ECONFLICT, "name", "a group named %q already exists", in.Name)
		}
		snap, err := takeSnapshot(ctx, tx, memberIDs)
		if err != nil {
			return err
		}
		gid, err := tx.CreateGroup(ctx, in.Name, in.IsAdmin)
		if err != nil {
			return err
		}
		for _, uid := range memberIDs {
			if err := tx.AddMember(ctx, gid, uid); err != nil {
				return err
			}
		}
		g, err := tx.GroupByName(ctx, in.Name)
		if err != nil {
			return err
		}
		out = g.Group
		if err := emit(ctx, tx, a, herald.EventGroupCreated, groupSubject(g.Name), renderGroup(g.Group), nil); err != nil {
			return err
		}
		return snap.emitChanged(ctx, tx, a)
	})
	return out, err
}

// GroupChange is the input of UpdateGroup: nil fields stay as they are.
type GroupChange struct {
	Name    *string   // renames the group
	Members *[]string // replaces the members
	IsAdmin *bool
}

// UpdateGroup renames a group, replaces its members or sets its admin flag,
// and fires group_modified and user_modified for every user whose groups or
// is_admin changed. Admins only.
// Returns ENOTFOUND, EINVALID (bad name, unknown member, no admin left) or
// ECONFLICT (new name taken).
func (s *Service) UpdateGroup(ctx context.Context, a Actor, name string, ch GroupChange) (herald.Group, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Group{}, err
	}
	if ch.Name != nil {
		if err := validateName("name", *ch.Name); err != nil {
			return herald.Group{}, err
		}
	}
	var out herald.Group
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		g, err := groupNamed(ctx, tx, name)
		if err != nil {
			return err
		}
		oldIDs, err := tx.GroupMemberIDs(ctx, g.ID)
		if err != nil {
			return err
		}
		newIDs := oldIDs
		if ch.Members != nil {
			if newIDs, err = resolveMembers(ctx, tx, *ch.Members); err != nil {
				return err
			}
		}
		newName, isAdmin := g.Name, g.IsAdmin
		if ch.Name != nil && *ch.Name != g.Name {
			newName = *ch.Name
			if _, err := tx.GroupIDByName(ctx, newName); err == nil {
				return herald.FieldErrorf(herald.ECONFLICT, "name", "a group named %q already exists", newName)
			}
		}
		if ch.IsAdmin != nil {
			isAdmin = *ch.IsAdmin
		}
		out, err = applyGroupChange(ctx, tx, a, g, oldIDs, newName, newIDs, isAdmin)
		return err
	})
	return out, err
}

// AddMember puts a user in a group. Admins only.
// Returns ENOTFOUND (group) or EINVALID (unknown user).
func (s *Service) AddMember(ctx context.Context, a Actor, group, username string) (herald.Group, error) {
	return s.changeMembers(ctx, a, group, username, true)
}

// RemoveMember takes a user out of a group. Admins only.
// Returns ENOTFOUND (group, user or membership) or EINVALID (no admin left).
func (s *Service) RemoveMember(ctx context.Context, a Actor, group, username string) (herald.Group, error) {
	return s.changeMembers(ctx, a, group, username, false)
}

func (s *Service) changeMembers(ctx context.Context, a Actor, group, username string, add bool) (herald.Group, error) {
	if err := RequireAdmin(a); err != nil {
		return herald.Group{}, err
	}
	var out herald.Group
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		g, err := groupNamed(ctx, tx, group)
		if err != nil {
			return err
		}
		oldIDs, err := tx.GroupMemberIDs(ctx, g.ID)
		if err != nil {
			return err
		}
		u, err := userNamed(ctx, tx, username)
		if add && herald.ErrorCode(err) == herald.ENOTFOUND {
			return herald.Invalid("username", "no user named %q", username)
		}
		if err != nil {
			return err
		}
		var newIDs []int64
		switch {
		case add:
			newIDs = append(slices.Clone(oldIDs), u.ID)
		case !slices.Contains(oldIDs, u.ID):
			return herald.Errorf(herald.ENOTFOUND, "%q is not a member of group %q", username, group)
		default:
			newIDs = slices.DeleteFunc(slices.Clone(oldIDs), func(id int64) bool { return id == u.ID })
		}
		out, err = applyGroupChange(ctx, tx, a, g, oldIDs, g.Name, newIDs, g.IsAdmin)
		return err
	})
	return out, err
}

// DeleteGroup removes a group, fires group_deleted with the group as it was
// and user_modified for its former members. Admins only.
// Returns ENOTFOUND or EINVALID (no admin left).
func (s *Service) DeleteGroup(ctx context.Context, a Actor, name string) error {
	if err := RequireAdmin(a); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		g, err := groupNamed(ctx, tx, name)
		if err != nil {
			return err
		}
		ids, err := tx.GroupMemberIDs(ctx, g.ID)
		if err != nil {
			return err
		}
		snap, err := takeSnapshot(ctx, tx, ids)
		if err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, g.ID); err != nil {
			return err
		}
		if err := ensureAdminLeft(ctx, tx); err != nil {
			return err
		}
		if err := emit(ctx, tx, a, herald.EventGroupDeleted, groupSubject(g.Name), renderGroup(g.Group), renderGroup(g.Group)); err != nil {
			return err
		}
		return snap.emitChanged(ctx, tx, a)
	})
}

// applyGroupChange writes a group's new name, members and admin flag, and
// records group_modified (if the group changed) and then user_modified for
// every user whose payload changed.
func applyGroupChange(ctx context.Context, tx *store.Tx, a Actor, g store.GroupRow, oldIDs []int64, newName string, newIDs []int64, isAdmin bool) (herald.Group, error) {
	snap, err := takeSnapshot(ctx, tx, append(slices.Clone(oldIDs), newIDs...))
	if err != nil {
		return herald.Group{}, err
	}
	if newName != g.Name || isAdmin != g.IsAdmin {
		if err := tx.UpdateGroup(ctx, g.ID, newName, isAdmin); err != nil {
			return herald.Group{}, err
		}
	}
	if newName != g.Name {
		if err := tx.RenameGroupInFilters(ctx, g.Name, newName); err != nil {
			return herald.Group{}, err
		}
	}
	for _, id := range oldIDs {
		if !slices.Contains(newIDs, id) {
			if err := tx.RemoveMember(ctx, g.ID, id); err != nil {
				return herald.Group{}, err
			}
		}
	}
	for _, id := range newIDs {
		if !slices.Contains(oldIDs, id) {
			if err := tx.AddMember(ctx, g.ID, id); err != nil {
				return herald.Group{}, err
			}
		}
	}
	if err := ensureAdminLeft(ctx, tx); err != nil {
		return herald.Group{}, err
	}
	after, err := tx.GroupByName(ctx, newName)
	if err != nil {
		return herald.Group{}, err
	}
	if string(renderGroup(after.Group)) != string(renderGroup(g.Group)) {
		if err := emit(ctx, tx, a, herald.EventGroupModified, groupSubject(after.Name), renderGroup(after.Group), renderGroup(g.Group)); err != nil {
			return herald.Group{}, err
		}
	}
	return after.Group, snap.emitChanged(ctx, tx, a)
}

// resolveMembers turns usernames into user ids (de-duplicated).
// Returns EINVALID naming the first unknown user.
func resolveMembers(ctx context.Context, tx *store.Tx, usernames []string) ([]int64, error) {
	var ids []int64
	for _, name := range normalizeNames(usernames) {
		u, err := userNamed(ctx, tx, name)
		if herald.ErrorCode(err) == herald.ENOTFOUND {
			return nil, herald.Invalid("members", "no user named %q", name)
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, u.ID)
	}
	return ids, nil
}
