package check

import "github.com/uptane-hil/uptane-hil/uptane/std"

// Statements says which normative statements of the Standard each check
// implements (uptane/std; the IDs of `uptane-hil trace`). A scenario whose
// defence lists a check proves these statements with a control run; a check
// with no statement defends something the Standard names as a threat but does
// not require in a statement (a request timeout, the in-vehicle protocol's
// own rules: docs/pouf.md). Every check of All has an entry (a spec fails
// otherwise).
var Statements = map[ID][]std.ID{
	RootSize:          {"check_root#2"},
	RootSignatures:    {"check_root#3"},
	RootVersion:       {"check_root#4"},
	RootExpiry:        {"check_root#6"},
	RootRotationReset: {"check_root#7"},

	TimestampSize:       {"check_timestamp#1"},
	TimestampSignatures: {"check_timestamp#2"},
	TimestampVersion:    {"check_timestamp#3"},
	TimestampExpiry:     {"check_timestamp#4"},

	SnapshotSize:            {"check_snapshot#1"},
	SnapshotTimestampMatch:  {"check_snapshot#2"},
	SnapshotSignatures:      {"check_snapshot#3"},
	SnapshotVersion:         {"check_snapshot#4"},
	SnapshotTargetsVersions: {"check_snapshot#5"},
	SnapshotTargetsListed:   {"check_snapshot#6"},
	SnapshotExpiry:          {"check_snapshot#7"},

	TargetsSize:          {"check_targets#1"},
	TargetsSnapshotMatch: {"check_targets#2"},
	// a delegated role is signed by its delegator's keys, and a role that
	// fails its checks aborts the delegation resolution
	TargetsSignatures:            {"check_targets#3", "delegations_meta#6", "resolve_delegations#3"},
	TargetsThreshold:             {"check_targets#3"},
	TargetsVersion:               {"check_targets#4"},
	TargetsExpiry:                {"check_targets#5"},
	TargetsDirectorNoDelegations: {"check_targets#6", "targets_role_delegations#7"},
	TargetsDirectorUniqueECUs:    {"check_targets#7"},
	TargetsDirectorECUsInVehicle: {"check_targets#8"},
	// the vehicle identifier is there to stop a replay; only a check makes it so
	TargetsImagesMetaVehicleID: {"targets_images_meta#3"},

	ResolveDelegationsFound:       {"resolve_delegations#9", "targets_images_meta#1"},
	ResolveDelegationsTerminating: {"resolve_delegations#5", "targets_role_delegations#3"},
	ResolveDelegationsScope:       {"resolve_delegations#6"},
	MultiroleDelegationsThreshold: {"multirole_delegations#1", "multirole_delegations#7", "targets_role_delegations#6"},

	// the basic repository mapping: every image is signed by both repositories
	FullVerificationImageRepository: {"repo_mapping_meta#1", "full_verification#3", "full_verification#11"},
	FullVerificationMatchHashes:     {"full_verification#15", "full_verification#17", "repo_mapping_meta#3"},
	FullVerificationMatchCustom:     {"full_verification#18", "targets_custom_meta#3"},
	FullVerificationReleaseCounter:  {"full_verification#19"},

	DownloadImageSize:            {"download_image#7"},
	DownloadImagePreviousTargets: {"download_image#6"},
	VerifyImageHardwareID:        {"verify_image#2"},
	VerifyImageFilename:          {"verify_image#3"},
	VerifyImageReleaseCounter:    {"verify_image#4"},
	VerifyImageDecrypt:           {"verify_image#6"},
	VerifyImageHashes:            {"verify_image#8"},

	InVehicleDownloadSpeed:    {"in_vehicle#3"},
	InVehicleBusDownloadSpeed: {"in_vehicle#4"},
	InVehicleRequestTimeout:   nil, // drop-request ({#threats}); no statement requires a timeout
	VerifyTimeMonotonic:       {"verify_time#1"},
	// the time is the time server's attestation over the ECU's own nonce,
	// on the Primary and on every Secondary (not the Primary's time)
	VerifyTimeAttestation: {"in_vehicle#2", "in_vehicle#10", "check_time_primary#1", "verify_time#1", "partial_verification#2", "full_verification#5"},
	VerifyTimeBound:       {"in_vehicle#10"},
	BuildTimeMetadata:     {"build_time#1", "build_time#2", "build_time#3"},

	SendImagesPrimaryCompleteBundle: {"send_images_primary#1"},

	DirectorRepositoryManifestSignature: {"director_repository#5", "director_repository#8"},
	DirectorRepositoryReportSignature:   {"director_repository#5", "director_repository#9"},
	DirectorRepositoryECUsInInventory:   {"director_repository#5"},
	DirectorRepositoryAllECUsReported:   {"director_repository#5", "director_repository#7"},
	DirectorRepositoryNonceFresh:        {"director_repository#11", "version_report#3"},
	DirectorRepositoryDependencies:      {"director_repository#12"},
	DirectorRepositoryEncryptImages:     {"targets_custom_meta#6"},

	PoufReportSignature: nil, // the Primary checks what the Director will (director_repository#9) before it forwards
	PoufReportNonce:     {"version_report#3"},
	PoufTransferSize:    {"download_image#7"},
	PoufRateLimit:       nil, // denial of service on the bus ({#threats}); no statement

	// a power cut mid-update must not leave the ECU unrecoverable
	InstallImageAtomic: {"install_image#1", "metadata_verification#5"},
	// a safety condition of the vehicle (ISO 14229-1), not of the Standard
	PoufProgrammingPreconditions: nil,
}
