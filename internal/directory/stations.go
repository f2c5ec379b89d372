package directory

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store"
)

// NewStationToken is a station token as created: Token is shown once.
type NewStationToken struct {
	herald.StationToken
	Token string `json:"token"`
}

// stationTouchEvery is how stale a station token's last_used_at may get:
// recording every use would be a write per call.
const stationTouchEvery = time.Minute

// CheckStation says what is wrong with a provisioning station's name
// (EINVALID), or nil; for a form that reports every error at once.
func CheckStation(station string) error { return validateStation(station) }

// CreateStationToken makes a token for a provisioning station, valid until
// expires (nil: until revoked). Admins only.
// Returns EINVALID (station name and an expiry in the past, together as
// herald.Errors when both are wrong).

func (s *Service) CreateStationToken(ctx context.Context, a Actor, station string, expires *time.Time) (NewStationToken, error) {
	if err := RequireAdmin(a); err != nil {
		return NewStationToken{}, err
	}
	var errs herald.Errors
	errs.Add(validateStation(station))
	if expires != nil {
		t := expires.UTC().Truncate(time.Microsecond)
		if !t.After(s.db.Now()) {
			errs.Add(invalid("expires_at", "is in the past"))
		}
		expires = &t
	}
	if err := errs.Err(); err != nil {
		return NewStationToken{}, err
	}
	secret, hash := newSecret(stationTokenPrefix)
	var t NewStationToken
	err := s.db.Update(ctx, func(tx *store.Tx) (err error) {
		if t.StationToken, err = tx.CreateStationToken(ctx, station, hash, expires); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditStationTokenCreated, fmt.Sprintf("station_token:%d", t.ID), "for station "+station)
	})
	t.Token = secret
	return t, err
}

// ListStationTokens lists every station token without secrets, expired
// ones included. Admins only.
func (s *Service) ListStationTokens(ctx context.Context, a Actor) ([]herald.StationToken, error) {
	if err := RequireAdmin(a); err != nil {
		return nil, err
	}
	var tokens []herald.StationToken
	err := s.db.View(ctx, func(tx *store.Tx) (err error) {
		tokens, err = tx.ListStationTokens(ctx)
		return err
	})
	return tokens, err
}

// RevokeStationToken deletes a station token: the next call with it is
// refused. Admins only. Returns ENOTFOUND.
func (s *Service) RevokeStationToken(ctx context.Context, a Actor, id int64) error {
	if err := RequireAdmin(a); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteStationToken(ctx, id); err != nil {
			return err
		}
		return audit(ctx, tx, a, herald.AuditStationTokenRevoked, fmt.Sprintf("station_token:%d", id), "")
	})
}

// touchStationToken records that t was used, at most once a minute. A
// failure to record it does not fail the call.
func (s *Service) touchStationToken(ctx context.Context, t herald.StationToken) {
	if t.LastUsedAt != nil && s.db.Now().Sub(*t.LastUsedAt) < stationTouchEvery {
		return
	}
	err := s.db.Update(ctx, func(tx *store.Tx) error { return tx.TouchStationToken(ctx, t.ID) })
	if err != nil {
		s.log.Warn("record station token use", "station", t.Station, "err", err)
	}
}

// CheckStation decides whether a may act as the provisioning station named
// station: only a station token made for that name may. Herald keeps no
// record of stations beyond their tokens, so this check is all that
// registering a station (Defguard's RegisterWorker) amounts to.
// Returns EUNAUTHORIZED (no credential), EFORBIDDEN (not a station token,
// or another station's) or EINVALID (no name).
func (s *Service) CheckStation(a Actor, station string) error {
	if err := RequireStation(a, ""); err != nil {
		return err
	}
	if station == "" {
		return invalid("worker", "is required (the station's name, as its token was created for)")
	}
	return RequireStation(a, station)
}
