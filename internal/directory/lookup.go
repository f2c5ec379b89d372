package directory

import (
	"context"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// userNamed, groupNamed and groupIDNamed look a user or a group up by
// name. A name that no user or group can have (validateName: a NUL byte,
// bytes that are not UTF-8, upper case...) is not found without asking the
// database, which may refuse such a string outright (PostgreSQL).
// They return ENOTFOUND as the store's lookups do.

func userNamed(ctx context.Context, tx *store.Tx, username string) (herald.User, error) {
	if validateName("username", username) != nil {
		return herald.User{}, herald.Errorf(herald.ENOTFOUND, "no user named %q", username)
	}
	return tx.UserByUsername(ctx, username)
}

func groupNamed(ctx context.Context, tx *store.Tx, name string) (store.GroupRow, error) {
	if validateName("name", name) != nil {
		return store.GroupRow{}, herald.Errorf(herald.ENOTFOUND, "no group named %q", name)
	}
	return tx.GroupByName(ctx, name)
}

func groupIDNamed(ctx context.Context, tx *store.Tx, name string) (int64, error) {
	if validateName("name", name) != nil {
		return 0, herald.Errorf(herald.ENOTFOUND, "no group named %q", name)
	}
	return tx.GroupIDByName(ctx, name)
}
