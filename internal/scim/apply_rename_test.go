package scim_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// Changes are ordered per subject, and a rename changes a group's
// subject: a change of "ops" still waiting (retried) when the rename to
// "sre" reached the target must not create a second group "ops" there.
func TestApplyGroupChangeAfterRename(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(t *scim.Target) { t.SyncGroups = true })
		e.group("ops")
		e.apply("group_created", "group:ops", groupBody("ops"), nil, scim.Done)
		e.renameGroup("ops", "sre")
		e.apply("group_modified", "group:sre", groupBody("sre"), groupBody("ops"), scim.Done)
		// The change of ops made before the rename, applied after it.
		e.apply("group_modified", "group:ops", groupBody("ops", "alice"), groupBody("ops"), scim.Done)
		if _, ok := e.p.Group("ops"); ok || len(e.p.Groups()) != 1 {
			t.Errorf("a change of ops applied after its rename made the target's groups %v: %v", e.p.Groups(), e.p.Calls())
		}
	})
}
