package directory

// CheckWorker decides whether a may act as the provisioning station named
// worker: only a station token made for that name may. Herald keeps no
// record of stations beyond their tokens, so this check is all that
// registering a station (Defguard's RegisterWorker) amounts to.
// Returns EUNAUTHORIZED (no credential), EFORBIDDEN (not a station token,
// or another station's) or EINVALID (no name).
func (s *Service) CheckWorker(a Actor, worker string) error {
	if err := requireWorker(a, ""); err != nil {
		return err
	}
	if worker == "" {
		return invalid("worker", "is required (the station's name, as its token was created for)")
	}
	return requireWorker(a, worker)
}
