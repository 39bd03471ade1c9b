package verify

import "fmt"

// Provision is {#build_time}: at the factory an ECU's trusted state for one
// repository is its Root and, beyond it, the latest metadata the Standard
// names, so that its first update cycle has a version baseline (a
// superseded but unexpired release replayed at the first cycle is then a
// rollback, not news):
//
//   - full verification (the Primary, full-verification Secondaries): the
//     latest Timestamp, Snapshot and top-level Targets of the repository;
//   - partial verification: the Director's Targets ("targets.json") only.
//
// The files are verified exactly as in an update cycle (Root chain,
// signatures, versions, expiry against o.Time, the vehicle in Director
// Targets) before r takes them; on any failure r is untouched.
func Provision(o Options, r *Repo, f Fetcher, partial bool) error {
	u := Begin(o, r, f)
	u.Partial = partial
	if err := u.CheckRoot(); err != nil {
		return fmt.Errorf("verify: provision %s: %w", r.Name(), err)
	}
	if !partial {
		if err := u.CheckTimestamp(); err != nil {
			return fmt.Errorf("verify: provision %s: %w", r.Name(), err)
		}
		if err := u.CheckSnapshot(); err != nil {
			return fmt.Errorf("verify: provision %s: %w", r.Name(), err)
		}
	}
	if err := u.CheckTargets(); err != nil {
		return fmt.Errorf("verify: provision %s: %w", r.Name(), err)
	}
	u.Commit()
	return nil
}
