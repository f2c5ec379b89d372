package store_test

import (
	"github.com/heraldhq/herald/internal/scim"
	"github.com/heraldhq/herald/internal/store"
)

// The database keeps SCIM targets' ids.
var _ scim.Store = (*store.DB)(nil)
