package directory

import "github.com/heraldhq/herald"

// Authorization rules, one function per kind of caller, so each decision is
// made in exactly one place. Every HTTP route declares one of them and is
// checked against it before its handler reads anything (internal/web); the
// directory's methods check again, as a second line, with what the request
// said (e.g. whose job it is). Anonymous callers get EUNAUTHORIZED (log in);
// authenticated callers without the right get EFORBIDDEN.

// RequireUser allows any logged-in user; stations are not users.
func RequireUser(a Actor) error {
	if a.Anonymous() {
		return errLogin
	}
	if a.Station != "" {
		return herald.Errorf(herald.EFORBIDDEN, "a provisioning station token may only use the station API")
	}
	return nil
}

// RequireAdmin allows admins only.
func RequireAdmin(a Actor) error {
	if err := RequireUser(a); err != nil {
		return err
	}
	if !a.IsAdmin {
		return herald.Errorf(herald.EFORBIDDEN, "only admins may do this")
	}
	return nil
}

// RequireSelfOrAdmin allows admins, and a user acting on their own account.
func RequireSelfOrAdmin(a Actor, username string) error {
	if err := RequireUser(a); err != nil {
		return err
	}
	if !a.IsAdmin && a.Username != username {
		return herald.Errorf(herald.EFORBIDDEN, "you may only do this for your own account")
	}
	return nil
}

// RequireStation allows a station token, for its own station name (any
// station when station is "").
func RequireStation(a Actor, station string) error {
	if a.Anonymous() {
		return herald.Errorf(herald.EUNAUTHORIZED, "this call needs a provisioning station token (Authorization: Bearer)")
	}
	if a.Station == "" {
		return herald.Errorf(herald.EFORBIDDEN, "this call is for provisioning stations; use a station token from POST /api/v1/worker/token")
	}
	if station != "" && a.Station != station {
		return herald.Errorf(herald.EFORBIDDEN, "this token belongs to station %q, not %q", a.Station, station)
	}
	return nil
}

var errLogin = herald.Errorf(herald.EUNAUTHORIZED, "log in first (POST /api/v1/auth) or send Authorization: Bearer <API token>")
