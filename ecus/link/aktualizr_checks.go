package link

import (
	"errors"
	"fmt"
	"strings"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// aktualizr-secondary answers a refused putMetaReq2 or installReq with a
// result code and the text of the exception that stopped it
// (src/libaktualizr/uptane/exceptions.h, directorrepository.cc,
// imagerepository.cc, uptanerepository.cc, aktualizr_secondary.cc,
// update_agent_file.cc at e5118a7). akRefusals maps those texts onto the
// Standard's checks, so a refusal is reported as the check it stands for.
// A text that names no role ("Rollback attempt") stands for each check it
// may be.
var akRefusals = []struct {
	text   string // a substring of the description
	repo   string // "Director", "Image" or "" (either)
	checks []check.ID
}{
	{"The root metadata was expired", "", []check.ID{check.RootExpiry}},
	{"The timestamp metadata was expired", "", []check.ID{check.TimestampExpiry}},
	{"The snapshot metadata was expired", "", []check.ID{check.SnapshotExpiry}},
	{"The targets metadata was expired", "", []check.ID{check.TargetsExpiry}},
	{"The root metadata had an unmet threshold", "", []check.ID{check.RootSignatures}},
	{"The timestamp metadata had an unmet threshold", "", []check.ID{check.TimestampSignatures}},
	{"The snapshot metadata had an unmet threshold", "", []check.ID{check.SnapshotSignatures}},
	{"The targets metadata had an unmet threshold", "", []check.ID{check.TargetsSignatures, check.TargetsThreshold}},
	{"Version in Root metadata does not match its expected value", "", []check.ID{check.RootVersion}},
	// one signature that does not verify (MetaWithKeys::ParseSignatures)
	{"A key has an incorrect associated key ID", "Director", []check.ID{check.RootSignatures, check.TargetsSignatures}},
	{"A key has an incorrect associated key ID", "Image", []check.ID{check.RootSignatures, check.TimestampSignatures, check.SnapshotSignatures, check.TargetsSignatures}},
	{"Rollback attempt", "Director", []check.ID{check.TargetsVersion}},
	{"Rollback attempt", "Image", []check.ID{check.TimestampVersion, check.SnapshotVersion, check.TargetsVersion}},
	{"Snapshot metadata hash verification failed", "", []check.ID{check.SnapshotTimestampMatch}},
	{"The version of role snapshot does not match", "", []check.ID{check.SnapshotTimestampMatch}},
	{"The version of role targets does not match", "", []check.ID{check.TargetsSnapshotMatch}},
	{"Snapshot hash mismatch for targets", "", []check.ID{check.TargetsSnapshotMatch}},
	{"Found unexpected delegation", "", []check.ID{check.TargetsDirectorNoDelegations}},
	{"Found repeated ECU ID", "", []check.ID{check.TargetsDirectorUniqueECUs}},
	// Target::MatchTarget: name, length, hashes, and the ECU's hardware ID
	// among the Image target's hardwareIds
	{"Targets metadata from the Director and Image repositories do not match", "", []check.ID{check.FullVerificationMatchHashes, check.FullVerificationMatchCustom, check.VerifyImageHardwareID}},
	{"exceeds the expected Target image size", "", []check.ID{check.DownloadImageSize}},
	{"Received image size does not match the size", "", []check.ID{check.VerifyImageHashes}},
	{"image's hash does not match the hash", "", []check.ID{check.VerifyImageHashes}},
}

// akChecks returns the checks an aktualizr-secondary's refusal stands for
// (none for a text the table does not know).
func akChecks(desc string) []check.ID {
	repo := ""
	switch {
	case strings.Contains(desc, "Director metadata"):
		repo = "Director"
	case strings.Contains(desc, "Image repo metadata"):
		repo = "Image"
	}
	for _, r := range akRefusals {
		if strings.Contains(desc, r.text) && (r.repo == "" || r.repo == repo) {
			return r.checks
		}
	}
	return nil
}

// akRefusal wraps err (aktualizr-secondary's refusal) in the checks its
// text stands for, each a *check.Error on ECU ecu (only err when the text
// is not known).
func akRefusal(ecu, op, desc string, err error) error {
	ids := akChecks(desc)
	if len(ids) == 0 {
		return fmt.Errorf("aktualizr-ip %s: %w", ecu, err)
	}
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i] = check.Fail(id, "", "", "aktualizr-secondary: %s", desc).OnECU(ecu)
	}
	return fmt.Errorf("aktualizr-ip %s: %s: %w (%w)", ecu, op, errors.Join(errs...), err)
}
