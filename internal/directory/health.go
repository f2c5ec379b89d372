package directory

import (
	"context"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// WebhookHealths returns the health of every webhook by id, read from the
// delivery log in one view. Admins only.
func (s *Service) WebhookHealths(ctx context.Context, a Actor, ids []int64) (map[int64]herald.WebhookHealth, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	out := make(map[int64]herald.WebhookHealth, len(ids))
	err := s.db.View(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			h, err := tx.WebhookHealth(ctx, id)
			if err != nil {
				return err
			}
			out[id] = h
		}
		return nil
	})
	return out, err
}

// DeliveryCounts counts the deliveries waiting now and those that
// succeeded or failed since since, over every webhook. Admins only.
func (s *Service) DeliveryCounts(ctx context.Context, a Actor, since time.Time) (store.DeliveryCounts, error) {
	if err := RequireAdmin(a); err != nil {
		return store.DeliveryCounts{}, err
	}
	var c store.DeliveryCounts
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		c, err = tx.CountDeliveries(ctx, since)
		return err
	})
	return c, err
}
