package directory

import "github.com/heraldhq/herald"

// Authorization rules, one function per kind of action, so each decision is
// made in exactly one place. Anonymous callers get EUNAUTHORIZED (log in);
// authenticated callers without the right get EFORBIDDEN.

// requireUser allows any logged-in user; stations are not users.
func requireUser(a Actor) error {
	if a.Anonymous() {
		return errLogin
	}
	if a.Worker != "" {
		return herald.Errorf(herald.EFORBIDDEN, "a provisioning station token may only use the station API")
	}
	return nil
}

// requireAdmin allows admins only.
func requireAdmin(a Actor) error {
	if err := requireUser(a); err != nil {
		return err
	}
	if !a.IsAdmin {
		return herald.Errorf(herald.EFORBIDDEN, "only admins may do this")
	}
	return nil
}

// requireSelfOrAdmin allows admins, and a user acting on their own account.
func requireSelfOrAdmin(a Actor, username string) error {
	if err := requireUser(a); err != nil {
		return err
	}
	if !a.IsAdmin && a.Username != username {
		return herald.Errorf(herald.EFORBIDDEN, "you may only do this for your own account")
	}
	return nil
}

// requireWorker allows a station token, for its own station name.
func requireWorker(a Actor, worker string) error {
	if a.Anonymous() {
		return herald.Errorf(herald.EUNAUTHORIZED, "this call needs a provisioning station token (Authorization: Bearer)")
	}
	if a.Worker == "" {
		return herald.Errorf(herald.EFORBIDDEN, "this call is for provisioning stations; use a station token from POST /api/v1/worker/token")
	}
	if worker != "" && a.Worker != worker {
		return herald.Errorf(herald.EFORBIDDEN, "this token belongs to station %q, not %q", a.Worker, worker)
	}
	return nil
}

var errLogin = herald.Errorf(herald.EUNAUTHORIZED, "log in first (POST /api/v1/auth) or send Authorization: Bearer <API token>")
