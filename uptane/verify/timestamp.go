package verify

import (
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// CheckTimestamp is {#check_timestamp}: download "timestamp.json" up to Y
// bytes (1), check the threshold of Timestamp keys of the latest Root (2),
// that the version does not go down (3), and that it has not expired (4).
func (u *Update) CheckTimestamp() error {
	const role = meta.Timestamp
	name := meta.UnversionedName(role)
	data, err := u.fetch(check.TimestampSize, role, name, u.lim.Timestamp)
	if err != nil {
		return err
	}
	ts, err := parseTimestamp(data)
	if err != nil {
		return u.fail(check.TimestampSignatures, role, "%s is not valid Timestamp metadata", name).Wrap(err)
	}
	if u.o.on(check.TimestampSignatures) {
		if err := verifyRole(ts, payloadOf(ts), u.w.root.Signed.Keys, u.w.root.Signed.Roles[role]); err != nil {
			return u.fail(check.TimestampSignatures, role, "version %d is not signed by the threshold of timestamp keys of root version %d", ts.Signed.Version, u.w.root.Signed.Version).Wrap(err)
		}
	}
	old := u.w.timestamp
	if old != nil && u.o.on(check.TimestampVersion) && ts.Signed.Version < old.Signed.Version {
		return u.fail(check.TimestampVersion, role, "version %d is lower than the trusted version %d", ts.Signed.Version, old.Signed.Version)
	}
	// TUF 5.4.3.1: a Timestamp of the trusted version is not new; the
	// trusted one stays, even if this one's content differs, and what it
	// lists is not fetched. (Uptane's step 3 accepts an equal version.)
	keep := old != nil && u.o.Workflow == TUF && u.o.on(check.TimestampVersion) && ts.Signed.Version == old.Signed.Version
	if !keep {
		if err := u.snapshotNotRolledBack(ts); err != nil {
			return err
		}
	}
	// Step 4, on the Timestamp that will be trusted.
	if exp := u.w.timestamp; keep && u.o.on(check.TimestampExpiry) && u.expired(exp.Signed.Expires) {
		return u.fail(check.TimestampExpiry, role, "trusted version %d (the repository's is the same version) expired at %s; time is %s", exp.Signed.Version, tstr(exp.Signed.Expires), tstr(u.o.Time))
	}
	if u.o.on(check.TimestampExpiry) && u.expired(ts.Signed.Expires) {
		return u.fail(check.TimestampExpiry, role, "version %d expired at %s; time is %s", ts.Signed.Version, tstr(ts.Signed.Expires), tstr(u.o.Time))
	}
	if keep {
		return nil
	}
	u.w.timestamp = ts
	u.w.raw[role] = data
	return nil
}
