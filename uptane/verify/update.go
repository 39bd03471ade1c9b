package verify

import (
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Options configure a verification.
type Options struct {
	// Profile switches checks off (control profiles); the zero value has
	// every check on.
	Profile check.Profile
	// Limits bound downloads and searches; zero fields take DefaultLimits.
	Limits Limits
	// Time is the current or latest securely attested time ({#verify_time}).
	// The verifier never reads a clock itself.
	Time time.Time
	// VIN is the vehicle the verifying ECU belongs to: Director Targets
	// must name it in custom.vin (targets_images_meta.vehicle_id), so one
	// vehicle's Director metadata cannot be replayed to another. Empty:
	// not bound (only verifiers outside a vehicle, e.g. the TUF client).
	VIN string
	// Workflow picks the rules where the TUF client workflow and the Uptane
	// Standard differ (docs/verification.md, "TUF and Uptane rules"); the
	// zero value is Uptane.
	Workflow Workflow
}

// Workflow selects the client workflow where the TUF specification and the
// Uptane Standard differ.
type Workflow int

const (
	// Uptane follows the Uptane Standard 2.1.0 (every ECU).
	Uptane Workflow = iota
	// TUF follows the TUF specification's client workflow
	// (uptane/tufclient, run by the TUF conformance suite).
	TUF
)

// String names the workflow.
func (w Workflow) String() string {
	if w == TUF {
		return "TUF"
	}
	return "Uptane"
}

func (o Options) on(id check.ID) bool { return o.Profile.On(id) }

// Update is one update cycle of one repository. It works on a copy of the
// trusted Repo; each procedure (CheckRoot, CheckTimestamp, ...) changes the
// copy only when all its steps pass, and Commit installs the copy. Until
// Commit, the trusted Repo is untouched.
type Update struct {
	o       Options
	lim     Limits
	f       Fetcher
	trusted *Repo
	w       *Repo
	used    map[string][]byte
	// cache of delegated roles checked in this update: steps 1, 2, 4, 5 of
	// check_targets passed; signatures are re-checked per delegator.
	loaded map[string]*loadedRole

	// Vehicle, on the Primary, lists the ECU identifiers present in the
	// vehicle: check_targets step 8 is done on Director Targets when it is
	// non-nil.
	Vehicle []string
	// Partial skips check_targets step 2 (partial-verification ECUs have no
	// Snapshot) and fetches Targets as "targets.json".
	Partial bool
}

type loadedRole struct {
	m       *metadata.Metadata[metadata.TargetsType]
	payload []byte
	name    string
}

// Begin starts an update cycle of trusted, fetching from f.
func Begin(o Options, trusted *Repo, f Fetcher) *Update {
	return &Update{o: o, lim: o.Limits.withDefaults(), f: f, trusted: trusted, w: trusted.Clone(),
		used: map[string][]byte{}, loaded: map[string]*loadedRole{}}
}

// Working is the working copy (what Commit would install). Do not modify.
func (u *Update) Working() *Repo { return u.w }

// Commit replaces the trusted Repo's content with the working copy.
func (u *Update) Commit() { *u.trusted = *u.w.Clone() }

// Used returns the metadata files fetched in this update, name → bytes.
func (u *Update) Used() map[string][]byte {
	out := make(map[string][]byte, len(u.used))
	for k, v := range u.used {
		out[k] = v
	}
	return out
}

func (u *Update) fail(id check.ID, role, format string, args ...any) *check.Error {
	return check.Fail(id, u.w.name, role, format, args...)
}

// fetch downloads name with the size check id: at most max bytes, or
// Limits.Unchecked when the profile switches the check off.
func (u *Update) fetch(id check.ID, role, name string, max int64) ([]byte, error) {
	limit := max
	if !u.o.on(id) {
		limit = u.lim.Unchecked
	}
	if u.f == nil {
		return nil, fmt.Errorf("verify: %s repository: no fetcher for %s", u.w.name, name)
	}
	data, err := u.f.Fetch(name, limit)
	if err != nil {
		return nil, fmt.Errorf("verify: %s repository: fetch %s: %w", u.w.name, name, err)
	}
	if int64(len(data)) > limit {
		if u.o.on(id) {
			return nil, u.fail(id, role, "%s is longer than the %d bytes allowed", name, max)
		}
		return nil, fmt.Errorf("verify: %s repository: %s is longer than %d bytes (size check off, hard cap)", u.w.name, name, limit)
	}
	u.used[name] = data
	return data, nil
}

func (u *Update) expired(exp time.Time) bool { return !u.o.Time.Before(exp) }

func tstr(t time.Time) string { return t.UTC().Format(time.RFC3339) }
