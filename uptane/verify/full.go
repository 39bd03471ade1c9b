package verify

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Scope says whose images a verification is for.
type Scope struct {
	// Primary is set on the Primary ECU: every Director target is checked
	// against the Image repository, and every ECU identifier in Director
	// Targets must be in ECUs (check_targets step 8).
	Primary bool
	// ECUs: on the Primary, every ECU identifier of the vehicle; on a
	// full-verification Secondary, its own identifier (only the Director
	// target for it is checked, {#full_verification} step 10).
	ECUs []string
	// Installed is, per ECU identifier, the image currently installed
	// (path, length and hashes matter); an ECU missing here has nothing
	// installed. Used for step 6 ("no new targets").
	Installed map[string]*metadata.TargetFiles
}

// Why a verification stopped early, and successfully.
const (
	// NoNewUpdates: the Director's Snapshot is the one already trusted
	// ({#full_verification} step 4).
	NoNewUpdates = "no new updates"
	// NoNewTargets: every Director target in scope is already installed
	// (step 6).
	NoNewTargets = "no new targets"
)

// ECUTarget is the verified metadata of the image for one ECU.
type ECUTarget struct {
	ECU  string
	Name string // target name (filename in metadata)
	// Director is the Director's metadata of the image; Custom its decoded
	// custom part (SHALL-match section, ECU identifiers, encryption).
	Director *metadata.TargetFiles
	Custom   *meta.Custom
	// HardwareID is what the Director says this ECU is.
	HardwareID string
	// Image is the Image repository's metadata for the same image (nil when
	// full_verification.image_repository or resolve_delegations.found is
	// switched off); ImageRole the role that signed it.
	Image     *metadata.TargetFiles
	ImageRole string
	// imageFiles: delegated metadata files used to find the image.
	imageFiles []string
}

// Result is the outcome of a successful full verification.
type Result struct {
	// Stopped is NoNewUpdates or NoNewTargets when the procedure stopped
	// early (and Targets is empty), else "".
	Stopped string
	// Targets are the verified images per ECU identifier in scope.
	Targets map[string]*ECUTarget
	// Used are the metadata files fetched during this verification, per
	// repository, name → bytes.
	Used FileSet

	director, image *Repo
}

// FileSet is a set of metadata files per repository, name → bytes, as a
// MapFetcher serves them.
type FileSet struct {
	Director map[string][]byte
	Image    map[string][]byte
}

// FilesFor returns the minimal set of metadata a full-verification
// Secondary with identifier ecu needs to verify its image
// ({#send_metadata_primary}): from both repositories every Root version
// (a Secondary can skip the versions it has), Timestamp, Snapshot and
// top-level Targets, and from the Image repository the delegated metadata
// the delegation search for its image went through.
func (r *Result) FilesFor(ecu string) FileSet {
	fs := FileSet{Director: topLevel(r.director), Image: map[string][]byte{}}
	if r.image == nil {
		return fs
	}
	fs.Image = topLevel(r.image)
	all := r.image.Files()
	if t := r.Targets[ecu]; t != nil {
		for _, name := range t.imageFiles {
			if b, ok := all[name]; ok {
				fs.Image[name] = b
			}
		}
	}
	return fs
}

// PartialFilesFor returns what a partial-verification Secondary needs: the
// Director's Root versions and its Targets as "targets.json" (the name
// PartialVerification fetches).
func (r *Result) PartialFilesFor(ecu string) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range r.director.Files() {
		if isRootName(name) {
			out[name] = b
		}
	}
	if b := r.director.Raw(meta.Targets); b != nil {
		out[meta.UnversionedName(meta.Targets)] = b
	}
	return out
}

func isRootName(name string) bool {
	return len(name) > len(".root.json") && name[len(name)-len(".root.json"):] == ".root.json"
}

func topLevel(r *Repo) map[string][]byte {
	out := map[string][]byte{}
	if r == nil {
		return out
	}
	for name, b := range r.Files() {
		if isRootName(name) {
			out[name] = b
		}
	}
	if r.timestamp != nil {
		out[meta.UnversionedName(meta.Timestamp)] = r.raw[meta.Timestamp]
	}
	if r.snapshot != nil {
		out[r.fileName(meta.Snapshot, r.snapshot.Signed.Version)] = r.raw[meta.Snapshot]
	}
	if r.targets != nil {
		out[r.fileName(meta.Targets, r.targets.Signed.Version)] = r.raw[meta.Targets]
	}
	return out
}

// FullVerification is {#full_verification} for a Primary (scope.Primary:
// all Director targets, all ECU identifiers in the vehicle) or a
// full-verification Secondary (its own target only), with director and
// image the trusted state of the two repositories and df, imf their
// fetchers. On success both Repos are replaced by the verified state (also
// on an early stop); on any failure neither is touched and the error is a
// *check.Error naming the failed check (or a fetch error).
func FullVerification(o Options, scope Scope, director, image *Repo, df, imf Fetcher) (*Result, error) {
	// Step 1: o.Time is the latest attested time.
	du := Begin(o, director, df)
	if scope.Primary {
		du.Vehicle = append([]string{}, scope.ECUs...)
	}
	// Step 2.
	if err := du.CheckRoot(); err != nil {
		return nil, err
	}
	// Step 3.
	if err := du.CheckTimestamp(); err != nil {
		return nil, err
	}
	res := &Result{Targets: map[string]*ECUTarget{}}
	// Step 4: the Snapshot is unchanged: no new updates.
	if du.SnapshotUnchanged() {
		du.Commit()
		res.Stopped, res.Used.Director = NoNewUpdates, du.Used()
		res.director, res.image = director, image
		return res, nil
	}
	if err := du.CheckSnapshot(); err != nil {
		return nil, err
	}
	// Step 5.
	if err := du.CheckTargets(); err != nil {
		return nil, err
	}
	targets, err := directorTargets(du, scope)
	if err != nil {
		return nil, err
	}
	// Step 6: nothing new → stop.
	if !anyNew(targets, scope.Installed) {
		du.Commit()
		res.Stopped, res.Used.Director = NoNewTargets, du.Used()
		res.director, res.image = director, image
		return res, nil
	}
	if !o.on(check.FullVerificationImageRepository) {
		// Control profile: trust the Director alone.
		du.Commit()
		res.Targets, res.Used.Director = targets, du.Used()
		res.director = director
		return res, nil
	}
	if image == nil || imf == nil {
		return nil, check.Fail(check.FullVerificationImageRepository, meta.Image, "", "no Image repository to check %d Director target(s) against", len(targets))
	}
	iu := Begin(o, image, imf)
	// Steps 7 and 8.
	if err := iu.CheckRoot(); err != nil {
		return nil, err
	}
	if err := iu.CheckTimestamp(); err != nil {
		return nil, err
	}
	// Step 8: an unchanged Snapshot skips to the last step.
	if !iu.SnapshotUnchanged() || iu.w.targets == nil {
		if err := iu.CheckSnapshot(); err != nil {
			return nil, err
		}
		// Step 9.
		if err := iu.CheckTargets(); err != nil {
			return nil, err
		}
	}
	// Step 10.
	prev := previousDirector(director)
	for _, ecu := range slices.Sorted(maps.Keys(targets)) {
		t := targets[ecu]
		if err := matchImage(iu, t, prev[ecu]); err != nil {
			if ce, ok := check.As(err); ok && ce.ECU == "" {
				ce.ECU = ecu
			}
			return nil, err
		}
	}
	du.Commit()
	iu.Commit()
	res.Targets = targets
	res.Used = FileSet{Director: du.Used(), Image: iu.Used()}
	res.director, res.image = director, image
	return res, nil
}

// directorTargets lists the Director targets in scope, per ECU.
func directorTargets(u *Update, scope Scope) (map[string]*ECUTarget, error) {
	out := map[string]*ECUTarget{}
	want := map[string]bool{}
	for _, e := range scope.ECUs {
		want[e] = true
	}
	for _, name := range slices.Sorted(maps.Keys(u.w.targets.Signed.Targets)) {
		tf := u.w.targets.Signed.Targets[name]
		c, err := meta.GetCustom(tf)
		if err != nil {
			continue // check_targets step 7 already judged this
		}
		for _, ecu := range slices.Sorted(maps.Keys(c.ECUIdentifiers)) {
			if !scope.Primary && !want[ecu] {
				continue
			}
			if _, dup := out[ecu]; dup {
				continue // only with check_targets.director_unique_ecus off
			}
			out[ecu] = &ECUTarget{ECU: ecu, Name: name, Director: tf, Custom: c, HardwareID: c.ECUIdentifiers[ecu].HardwareID}
		}
	}
	return out, nil
}

// Pending returns the targets the trusted Director Targets assign to ECUs
// in scope that have another image installed: an update verified in an
// earlier cycle and not installed since (the power went mid-install, an
// image could not be downloaded). Full verification stops at step 4 when
// the Director's Snapshot is unchanged ("no new updates": there is no new
// metadata to verify), so without this an ECU that lost an update would
// wait for the Director to sign new metadata. The targets are those the
// ECU verified (Director and, for a full-verification ECU, the Image
// repository) when that Snapshot was new; none when the trusted Snapshot
// or Targets have expired at o.Time. On the Primary (scope.Primary) every
// ECU of the Targets counts.
func Pending(o Options, scope Scope, director *Repo) map[string]*ECUTarget {
	if director == nil || director.targets == nil || director.snapshot == nil {
		return nil
	}
	if !o.Time.Before(director.targets.Signed.Expires) || !o.Time.Before(director.snapshot.Signed.Expires) {
		return nil
	}
	all, err := directorTargets(&Update{w: director}, scope)
	if err != nil {
		return nil
	}
	out := map[string]*ECUTarget{}
	for ecu, t := range all {
		if anyNew(map[string]*ECUTarget{ecu: t}, scope.Installed) {
			out[ecu] = t
		}
	}
	return out
}

func anyNew(targets map[string]*ECUTarget, installed map[string]*metadata.TargetFiles) bool {
	for ecu, t := range targets {
		have := installed[ecu]
		if have == nil || have.Path != t.Name || have.Length != t.Director.Length || !sameHashes(have.Hashes, t.Director.Hashes) {
			return true
		}
	}
	return false
}

// previousDirector maps ECU → SHALL-match section in the trusted (previous)
// Director Targets.
func previousDirector(r *Repo) map[string]*meta.ShallMatch {
	out := map[string]*meta.ShallMatch{}
	if r == nil || r.targets == nil {
		return out
	}
	for _, tf := range r.targets.Signed.Targets {
		c, err := meta.GetCustom(tf)
		if err != nil {
			continue
		}
		for ecu := range c.ECUIdentifiers {
			sm := c.Uptane
			out[ecu] = &sm
		}
	}
	return out
}

// matchImage is step 10 of {#full_verification} for one Director target.
func matchImage(iu *Update, t *ECUTarget, prev *meta.ShallMatch) error {
	// 10.1: locate the image in the Image repository.
	f, err := iu.ResolveDelegations(t.Name, t.HardwareID)
	if err != nil {
		return err
	}
	if f != nil {
		t.Image, t.ImageRole, t.imageFiles = f.Target, f.Role, f.Files
		// 10.2.1: length and hashes.
		if iu.o.on(check.FullVerificationMatchHashes) {
			if t.Director.Length != f.Target.Length || !sameHashes(t.Director.Hashes, f.Target.Hashes) {
				return check.Fail(check.FullVerificationMatchHashes, meta.Image, f.Role,
					"%q: Director lists length %d and hashes %s, Image repository (%s) length %d and hashes %s",
					t.Name, t.Director.Length, hashList(t.Director.Hashes), f.Role, f.Target.Length, hashList(f.Target.Hashes)).OnECU(t.ECU)
			}
		}
		// 10.2.2: SHALL-match custom metadata.
		if iu.o.on(check.FullVerificationMatchCustom) {
			ic, err := meta.GetCustom(f.Target)
			if err != nil {
				return check.Fail(check.FullVerificationMatchCustom, meta.Image, f.Role, "%q: Image repository has no SHALL-match section", t.Name).Wrap(err).OnECU(t.ECU)
			}
			if !ic.Uptane.Equal(t.Custom.Uptane) {
				return check.Fail(check.FullVerificationMatchCustom, meta.Image, f.Role,
					"%q: Director says hardware %v release %d, Image repository hardware %v release %d",
					t.Name, t.Custom.Uptane.HardwareIDs, t.Custom.Uptane.ReleaseCounter, ic.Uptane.HardwareIDs, ic.Uptane.ReleaseCounter).OnECU(t.ECU)
			}
		}
	}
	// 10.2.3: the release counter does not go down.
	if prev != nil && iu.o.on(check.FullVerificationReleaseCounter) && t.Custom.Uptane.ReleaseCounter < prev.ReleaseCounter {
		return check.Fail(check.FullVerificationReleaseCounter, meta.Director, meta.Targets,
			"%q has release counter %d, the previous Director target for this ECU had %d", t.Name, t.Custom.Uptane.ReleaseCounter, prev.ReleaseCounter).OnECU(t.ECU)
	}
	return nil
}

// sameHashes: the same hash functions with the same values.
func sameHashes(a, b metadata.Hashes) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for alg, h := range a {
		if !bytes.Equal(h, b[alg]) {
			return false
		}
	}
	return true
}

func hashList(h metadata.Hashes) string {
	algs := slices.Sorted(maps.Keys(h))
	s := "["
	for i, a := range algs {
		if i > 0 {
			s += " "
		}
		v := fmt.Sprintf("%x", []byte(h[a]))
		if len(v) > 16 {
			v = v[:16] + "…"
		}
		s += a + ":" + v
	}
	return s + "]"
}

// PartialVerification is {#partial_verification} on a Secondary: (step 1:
// o.Time) optionally {#check_root} on the Director (checkRoot), then
// {#check_targets} on the Director Targets, fetched as "targets.json",
// with step 2 skipped (no Snapshot). It returns the Director target for
// ecu, or nil when there is none. On failure dir is untouched.
func PartialVerification(o Options, dir *Repo, df Fetcher, ecu string, checkRoot bool) (*ECUTarget, error) {
	u := Begin(o, dir, df)
	u.Partial = true
	if checkRoot {
		if err := u.CheckRoot(); err != nil {
			return nil, err
		}
	}
	if err := u.CheckTargets(); err != nil {
		return nil, err
	}
	ts, err := directorTargets(u, Scope{ECUs: []string{ecu}})
	if err != nil {
		return nil, err
	}
	u.Commit()
	return ts[ecu], nil
}
