// Package check names every defence uptane-hil implements, after the section
// anchor and step of the Uptane Standard 2.1.0 it comes from, and carries the
// typed error a failed check raises. An ECU profile switches checks on and
// off by these names; reports say which check stopped which attack.
package check

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Attack is a threat from the Standard's threat model ({#threats}) or an
// attack on the vehicle network that a check defends against.
type Attack string

// The attacks of the Standard's threat model, plus the in-vehicle ones.
const (
	Eavesdrop         Attack = "eavesdrop"
	DropRequest       Attack = "drop-request"
	SlowRetrieval     Attack = "slow-retrieval"
	Freeze            Attack = "freeze"
	PartialBundle     Attack = "partial-bundle"
	DenialOfService   Attack = "denial-of-service"
	Rollback          Attack = "rollback"
	EndlessData       Attack = "endless-data"
	MixAndMatch       Attack = "mix-and-match"
	ArbitrarySoftware Attack = "arbitrary-software"
	// Incompatible is an image for other hardware ({#inventory_db}: "directing
	// the ECU to install incompatible firmware").
	Incompatible Attack = "incompatible-software"
	// Replay of an ECU version report or vehicle manifest ({#version_report}).
	Replay Attack = "replay"
	// Spoofing: a message signed by the wrong key, e.g. a forged version report.
	Spoofing Attack = "spoofing"
	// UnsafeState is not a threat of the Standard's model: an ECU
	// reprogrammed while the vehicle is in a state unsafe for it (driving,
	// ignition off), which its programming preconditions on bus signals
	// prevent (ISO 14229-1 NRC 0x22; docs/restbus.md).
	UnsafeState Attack = "unsafe-state"
)

// ID names one check. Its name (String, and its text form in JSON, YAML and
// on the wire) is "<section anchor>.<step name>", e.g.
// "check_timestamp.expiry". Only the constants below are checks: a name
// from outside (a scenario file, a command line, a message) becomes an ID
// through ParseID, which rejects an unknown name, so a misspelt check can
// never silently leave a defence on.
type ID uint16

// The checks, one constant each, in the order of All (which gives each its
// name; a spec keeps the two in step).
const (
	_                                   ID = iota // the zero ID names no check
	RootSize                                      // check_root.size
	RootSignatures                                // check_root.signatures
	RootVersion                                   // check_root.version
	RootExpiry                                    // check_root.expiry
	RootRotationReset                             // check_root.rotation_reset
	TimestampSize                                 // check_timestamp.size
	TimestampSignatures                           // check_timestamp.signatures
	TimestampVersion                              // check_timestamp.version
	TimestampExpiry                               // check_timestamp.expiry
	SnapshotSize                                  // check_snapshot.size
	SnapshotTimestampMatch                        // check_snapshot.timestamp_match
	SnapshotSignatures                            // check_snapshot.signatures
	SnapshotVersion                               // check_snapshot.version
	SnapshotTargetsVersions                       // check_snapshot.targets_versions
	SnapshotTargetsListed                         // check_snapshot.targets_listed
	SnapshotExpiry                                // check_snapshot.expiry
	TargetsSize                                   // check_targets.size
	TargetsSnapshotMatch                          // check_targets.snapshot_match
	TargetsSignatures                             // check_targets.signatures
	TargetsThreshold                              // check_targets.threshold
	TargetsVersion                                // check_targets.version
	TargetsExpiry                                 // check_targets.expiry
	TargetsDirectorNoDelegations                  // check_targets.director_no_delegations
	TargetsDirectorUniqueECUs                     // check_targets.director_unique_ecus
	TargetsDirectorECUsInVehicle                  // check_targets.director_ecus_in_vehicle
	TargetsImagesMetaVehicleID                    // targets_images_meta.vehicle_id
	ResolveDelegationsFound                       // resolve_delegations.found
	ResolveDelegationsTerminating                 // resolve_delegations.terminating
	ResolveDelegationsScope                       // resolve_delegations.scope
	MultiroleDelegationsThreshold                 // multirole_delegations.threshold
	FullVerificationImageRepository               // full_verification.image_repository
	FullVerificationMatchHashes                   // full_verification.match_hashes
	FullVerificationMatchCustom                   // full_verification.match_custom
	FullVerificationReleaseCounter                // full_verification.release_counter
	DownloadImageSize                             // download_image.size
	DownloadImagePreviousTargets                  // download_image.previous_targets
	VerifyImageHardwareID                         // verify_image.hardware_id
	VerifyImageFilename                           // verify_image.filename
	VerifyImageReleaseCounter                     // verify_image.release_counter
	VerifyImageDecrypt                            // verify_image.decrypt
	VerifyImageHashes                             // verify_image.hashes
	InVehicleDownloadSpeed                        // in_vehicle.download_speed
	InVehicleBusDownloadSpeed                     // in_vehicle.bus_download_speed
	InVehicleRequestTimeout                       // in_vehicle.request_timeout
	VerifyTimeMonotonic                           // verify_time.monotonic
	VerifyTimeAttestation                         // verify_time.attestation
	VerifyTimeBound                               // verify_time.bound
	BuildTimeMetadata                             // build_time.metadata
	SendImagesPrimaryCompleteBundle               // send_images_primary.complete_bundle
	DirectorRepositoryManifestSignature           // director_repository.manifest_signature
	DirectorRepositoryReportSignature             // director_repository.report_signature
	DirectorRepositoryECUsInInventory             // director_repository.ecus_in_inventory
	DirectorRepositoryAllECUsReported             // director_repository.all_ecus_reported
	DirectorRepositoryNonceFresh                  // director_repository.nonce_fresh
	DirectorRepositoryDependencies                // director_repository.dependencies
	DirectorRepositoryEncryptImages               // director_repository.encrypt_images
	PoufReportSignature                           // pouf.report_signature
	PoufReportNonce                               // pouf.report_nonce
	PoufTransferSize                              // pouf.transfer_size
	PoufRateLimit                                 // pouf.rate_limit
	InstallImageAtomic                            // install_image.atomic
	PoufProgrammingPreconditions                  // pouf.programming_preconditions
)

// Check describes one defence.
type Check struct {
	ID      ID
	Section string // anchor in the Standard, e.g. "check_timestamp"
	Step    string // step number in that section, e.g. "4" or "10.2.3"
	Attack  Attack
	Summary string

	name string // "<Section>.<step name>"
}

func c(id ID, section, name, step string, a Attack, summary string) Check {
	return Check{ID: id, Section: section, Step: step, Attack: a, Summary: summary, name: section + "." + name}
}

// All lists every check, in the order of the Standard.
var All = []Check{
	// Metadata verification: Root ({#check_root})
	c(RootSize, "check_root", "size", "2.2", EndlessData, "Root metadata is downloaded up to X bytes"),
	c(RootSignatures, "check_root", "signatures", "2.3", ArbitrarySoftware, "Root N+1 is signed by a threshold of Root N's keys and of its own keys"),
	c(RootVersion, "check_root", "version", "2.4", Rollback, "Root N+1 has version N+1"),
	c(RootExpiry, "check_root", "expiry", "3", Freeze, "the latest Root has not expired"),
	c(RootRotationReset, "check_root", "rotation_reset", "4", Rollback, "Timestamp and Snapshot metadata are deleted when their keys rotate (fast-forward recovery)"),
	// Timestamp ({#check_timestamp})
	c(TimestampSize, "check_timestamp", "size", "1", EndlessData, "Timestamp metadata is downloaded up to Y bytes"),
	c(TimestampSignatures, "check_timestamp", "signatures", "2", ArbitrarySoftware, "Timestamp is signed by the Root's threshold of Timestamp keys"),
	c(TimestampVersion, "check_timestamp", "version", "3", Rollback, "Timestamp version is not lower than the trusted one"),
	c(TimestampExpiry, "check_timestamp", "expiry", "4", Freeze, "Timestamp has not expired"),
	// Snapshot ({#check_snapshot})
	c(SnapshotSize, "check_snapshot", "size", "1", EndlessData, "Snapshot is downloaded up to the length the Timestamp lists"),
	c(SnapshotTimestampMatch, "check_snapshot", "timestamp_match", "2", MixAndMatch, "Snapshot hashes and version match the Timestamp"),
	c(SnapshotSignatures, "check_snapshot", "signatures", "3", ArbitrarySoftware, "Snapshot is signed by the Root's threshold of Snapshot keys"),
	c(SnapshotVersion, "check_snapshot", "version", "4", Rollback, "Snapshot version is not lower than the trusted one"),
	c(SnapshotTargetsVersions, "check_snapshot", "targets_versions", "5", Rollback, "no Targets file version listed goes down"),
	c(SnapshotTargetsListed, "check_snapshot", "targets_listed", "6", Rollback, "every Targets file listed before is still listed"),
	c(SnapshotExpiry, "check_snapshot", "expiry", "7", Freeze, "Snapshot has not expired"),
	// Targets ({#check_targets})
	c(TargetsSize, "check_targets", "size", "1", EndlessData, "Targets metadata is downloaded up to Z bytes"),
	c(TargetsSnapshotMatch, "check_targets", "snapshot_match", "2", MixAndMatch, "Targets version matches the Snapshot"),
	c(TargetsSignatures, "check_targets", "signatures", "3", ArbitrarySoftware, "Targets carries a valid signature by a key of its delegator (off: signatures are not checked at all)"),
	c(TargetsThreshold, "check_targets", "threshold", "3", ArbitrarySoftware, "Targets carries valid signatures of a threshold of distinct keys of its delegator (off: one valid key suffices)"),
	c(TargetsVersion, "check_targets", "version", "4", Rollback, "Targets version is not lower than the trusted one"),
	c(TargetsExpiry, "check_targets", "expiry", "5", Freeze, "Targets has not expired"),
	c(TargetsDirectorNoDelegations, "check_targets", "director_no_delegations", "6", ArbitrarySoftware, "Director Targets has no delegations"),
	c(TargetsDirectorUniqueECUs, "check_targets", "director_unique_ecus", "7", MixAndMatch, "no ECU identifier appears twice in Director Targets"),
	c(TargetsDirectorECUsInVehicle, "check_targets", "director_ecus_in_vehicle", "8", MixAndMatch, "every ECU identifier in Director Targets is in this vehicle"),
	// Director Targets name their vehicle ({#targets_images_meta})
	c(TargetsImagesMetaVehicleID, "targets_images_meta", "vehicle_id", "-", Replay, "Director Targets name this vehicle (custom.vin): another vehicle's metadata is refused"),
	// Delegations ({#resolve_delegations}, {#multirole_delegations})
	c(ResolveDelegationsFound, "resolve_delegations", "found", "1-5", ArbitrarySoftware, "a role with authority signed metadata for the image"),
	c(ResolveDelegationsTerminating, "resolve_delegations", "terminating", "3", ArbitrarySoftware, "a terminating delegation ends the search"),
	c(ResolveDelegationsScope, "resolve_delegations", "scope", "4.1", ArbitrarySoftware, "a delegation applies only to its image paths and hardware identifiers"),
	c(MultiroleDelegationsThreshold, "multirole_delegations", "threshold", "2", ArbitrarySoftware, "a threshold of roles agree on the image metadata"),
	// Full verification: Director vs Image ({#full_verification})
	c(FullVerificationImageRepository, "full_verification", "image_repository", "6-9", ArbitrarySoftware, "the Image repository's metadata is verified at all (not Director-only trust)"),
	c(FullVerificationMatchHashes, "full_verification", "match_hashes", "10.2.1", ArbitrarySoftware, "Director and Image metadata agree on length and hashes"),
	c(FullVerificationMatchCustom, "full_verification", "match_custom", "10.2.2", MixAndMatch, "Director and Image metadata agree on hardware identifier and release counter"),
	c(FullVerificationReleaseCounter, "full_verification", "release_counter", "10.2.3", Rollback, "the release counter does not go down"),
	// Images ({#download_image}, {#verify_image}, {#download_images_primary})
	c(DownloadImageSize, "download_image", "size", "4", EndlessData, "an image is downloaded up to the length in the metadata"),
	c(DownloadImagePreviousTargets, "download_image", "previous_targets", "4", Rollback, "when the image fails, the ECU keeps its previous Director metadata: new metadata becomes trusted only with the image it names (off: trusted as soon as verified)"),
	c(VerifyImageHardwareID, "verify_image", "hardware_id", "3", Incompatible, "the image's hardware identifier is this ECU's"),
	c(VerifyImageFilename, "verify_image", "filename", "4", ArbitrarySoftware, "the image filename is valid for this ECU"),
	c(VerifyImageReleaseCounter, "verify_image", "release_counter", "5", Rollback, "the release counter is not lower than the installed image's"),
	c(VerifyImageDecrypt, "verify_image", "decrypt", "6", Eavesdrop, "an encrypted image decrypts with this ECU's key"),
	c(VerifyImageHashes, "verify_image", "hashes", "7", ArbitrarySoftware, "every listed hash and the length match the image"),
	// In-vehicle requirements
	c(InVehicleDownloadSpeed, "in_vehicle", "download_speed", "-", SlowRetrieval, "downloads slower than the threshold are aborted and reported"),
	c(InVehicleBusDownloadSpeed, "in_vehicle", "bus_download_speed", "-", SlowRetrieval, "a Secondary aborts and reports a file transfer on the bus slower than its threshold (a Primary trickling blocks just inside the session timeout)"),
	c(InVehicleRequestTimeout, "in_vehicle", "request_timeout", "-", DropRequest, "a request that gets no answer times out and is reported"),
	c(VerifyTimeMonotonic, "verify_time", "monotonic", "-", Freeze, "the attested time never goes backwards"),
	c(VerifyTimeAttestation, "verify_time", "attestation", "-", Spoofing, "the time is taken only from a time server's attestation, signed by its key, over the nonce this ECU made for it (not from an unauthenticated write, not a replayed attestation)"),
	c(VerifyTimeBound, "verify_time", "bound", "-", DenialOfService, "an attested time beyond the expiry of the trusted Director Root is refused: it would lock the ECU out of every later update"),
	// Build-time prerequisites ({#build_time})
	c(BuildTimeMetadata, "build_time", "metadata", "-", Rollback, "ECUs leave the factory with the latest metadata (full: Timestamp, Snapshot, Targets of both repositories; partial: the Director's Targets), not Roots only: the first update has a version baseline"),
	c(SendImagesPrimaryCompleteBundle, "send_images_primary", "complete_bundle", "-", PartialBundle, "every image of the bundle reached its ECU, or the gap is reported"),
	// Director: vehicle version manifests ({#director_repository}, {#vehicle_version_manifest})
	c(DirectorRepositoryManifestSignature, "director_repository", "manifest_signature", "3", Spoofing, "the manifest is signed by the vehicle's Primary ECU key"),
	c(DirectorRepositoryReportSignature, "director_repository", "report_signature", "3", Spoofing, "each ECU version report is signed by that ECU's key"),
	c(DirectorRepositoryECUsInInventory, "director_repository", "ecus_in_inventory", "3", Spoofing, "every reporting ECU belongs to this vehicle"),
	c(DirectorRepositoryAllECUsReported, "director_repository", "all_ecus_reported", "3", DropRequest, "every ECU in the inventory is represented in the manifest"),
	c(DirectorRepositoryNonceFresh, "director_repository", "nonce_fresh", "4", Replay, "the nonce/counter of each version report has not been used before"),
	c(DirectorRepositoryDependencies, "director_repository", "dependencies", "5", Incompatible, "the Director assigns a set of images only when every image's declared dependencies and conflicts hold in the vehicle's resulting configuration"),
	c(DirectorRepositoryEncryptImages, "director_repository", "encrypt_images", "6", Eavesdrop, "the Director encrypts the images of ECUs that require it, for that ECU's key"),
	// In-vehicle bus protocol (docs/pouf.md)
	c(PoufReportSignature, "pouf", "report_signature", "-", Spoofing, "the Primary verifies each Secondary's version report signature"),
	c(PoufReportNonce, "pouf", "report_nonce", "-", Replay, "the version report carries the nonce the Primary just wrote"),
	c(PoufTransferSize, "pouf", "transfer_size", "-", EndlessData, "a file transfer never exceeds its announced or configured size"),
	c(PoufRateLimit, "pouf", "rate_limit", "-", DenialOfService, "a flood of requests is answered busy, not processed"),
	// Install image ({#install_image}), against power loss: listed last so
	// that the numbers of the checks before it stay as they were
	c(InstallImageAtomic, "install_image", "atomic", "-", DenialOfService, "a new image is written beside the running one (the inactive A/B slot) and made active by one atomic switch once whole, the ECU's state is rewritten atomically, and the ECU boots only a whole image: a power cut at any point leaves the old or the new image, never a mix (off: a single-bank ECU that programs its one image area in place, as the blocks arrive and at install, rewrites its state in place and boots whatever it holds)"),
	c(PoufProgrammingPreconditions, "pouf", "programming_preconditions", "-", UnsafeState, "a Secondary refuses programming (NRC 0x22) while its preconditions on bus signals (vehicle speed 0, ignition on) are unmet, and stops a transfer in progress when they stop holding"),
}

// byName finds a check by its name. Building it also proves All and the
// constants in step: All[i] must be the check of constant i+1.
var byName = func() map[string]ID {
	m := make(map[string]ID, len(All))
	for i, ch := range All {
		if ch.ID != ID(i+1) {
			panic(fmt.Sprintf("check: All[%d] is %s, want the constant %d (All and the constants are out of step)", i, ch.name, i+1))
		}
		if _, dup := m[ch.name]; dup {
			panic("check: duplicate name " + ch.name)
		}
		m[ch.name] = ch.ID
	}
	return m
}()

// Lookup returns the check with the given ID.
func Lookup(id ID) (Check, bool) {
	if !id.Valid() {
		return Check{}, false
	}
	return All[id-1], true
}

// Valid reports whether id is one of the checks (not the zero ID).
func (id ID) Valid() bool { return id > 0 && int(id) <= len(All) }

// String returns the check's name, e.g. "check_timestamp.expiry"; "" for the
// zero ID.
func (id ID) String() string {
	if !id.Valid() {
		if id == 0 {
			return ""
		}
		return fmt.Sprintf("check(%d)", uint16(id))
	}
	return All[id-1].name
}

// ParseID returns the check named name ("check_timestamp.expiry"). It is the
// one way from a name to an ID; an unknown name is an error.
func ParseID(name string) (ID, error) {
	id, ok := byName[name]
	if !ok {
		return 0, &UnknownError{Name: name}
	}
	return id, nil
}

// UnknownError is the error for a name that is no check.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown check %q (the checks are listed in uptane/check.All)", e.Name)
}

// MarshalText writes the check's name ("" for the zero ID).
func (id ID) MarshalText() ([]byte, error) {
	if id != 0 && !id.Valid() {
		return nil, fmt.Errorf("check: no check has ID %d", uint16(id))
	}
	return []byte(id.String()), nil
}

// UnmarshalText reads a check's name; "" is the zero ID, an unknown name an
// error.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = 0
		return nil
	}
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Error is the error a failed check raises. It names the check, the attack
// it defends against, and where it happened.
type Error struct {
	Check  ID
	Attack Attack
	Repo   string // "director", "image" or "" (not about a repository)
	Role   string // "root", "timestamp", "snapshot", "targets", a delegated role, or ""
	ECU    string // ECU identifier, when known
	Detail string // what was found, in words, with the versions/times involved
	Err    error  // underlying error, if any
}

// Fail returns the error for a failed check. It panics on an unknown ID (a
// programming error).
func Fail(id ID, repo, role, format string, args ...any) *Error {
	ch, ok := Lookup(id)
	if !ok {
		panic(fmt.Sprintf("check: Fail with no check (ID %d)", uint16(id)))
	}
	return &Error{Check: id, Attack: ch.Attack, Repo: repo, Role: role, Detail: fmt.Sprintf(format, args...)}
}

// Wrap sets Err and returns e.
func (e *Error) Wrap(err error) *Error { e.Err = err; return e }

// OnECU sets ECU and returns e.
func (e *Error) OnECU(ecu string) *Error { e.ECU = ecu; return e }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Check.String())
	b.WriteString(" (")
	b.WriteString(string(e.Attack))
	b.WriteString(")")
	where := strings.Trim(e.Repo+"/"+e.Role, "/")
	if e.ECU != "" {
		where = strings.TrimLeft(where+" on "+e.ECU, " ")
	}
	if where != "" {
		b.WriteString(" " + where)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// As returns the first check error in err's chain.
func As(err error) (*Error, bool) {
	var ce *Error
	if errors.As(err, &ce) {
		return ce, true
	}
	return nil, false
}

// Is reports whether err is (or wraps) a failure of check id.
func Is(err error, id ID) bool {
	ce, ok := As(err)
	return ok && ce.Check == id
}

// Profile is a set of checks that are switched off. The conformant profile
// has every check on; a control profile is the conformant one minus exactly
// the defence a scenario targets.
type Profile struct {
	Name     string
	Disabled []ID
}

// Conformant has every check on.
var Conformant = Profile{Name: "conformant"}

// Without returns the conformant profile minus the given checks.
func Without(ids ...ID) Profile {
	ds := append([]ID(nil), ids...)
	// By name, so that a profile's name does not depend on the order of All.
	slices.SortFunc(ds, func(a, b ID) int { return strings.Compare(a.String(), b.String()) })
	names := make([]string, len(ds))
	for i, id := range ds {
		if !id.Valid() {
			panic(fmt.Sprintf("check: Without: no check has ID %d", uint16(id)))
		}
		names[i] = id.String()
	}
	return Profile{Name: "without:" + strings.Join(names, "+"), Disabled: ds}
}

// On reports whether check id is enabled in the profile.
func (p Profile) On(id ID) bool {
	return !slices.Contains(p.Disabled, id)
}
