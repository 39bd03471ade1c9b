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
	"check_root.size":           {"check_root#2"},
	"check_root.signatures":     {"check_root#3"},
	"check_root.version":        {"check_root#4"},
	"check_root.expiry":         {"check_root#6"},
	"check_root.rotation_reset": {"check_root#7"},

	"check_timestamp.size":       {"check_timestamp#1"},
	"check_timestamp.signatures": {"check_timestamp#2"},
	"check_timestamp.version":    {"check_timestamp#3"},
	"check_timestamp.expiry":     {"check_timestamp#4"},

	"check_snapshot.size":             {"check_snapshot#1"},
	"check_snapshot.timestamp_match":  {"check_snapshot#2"},
	"check_snapshot.signatures":       {"check_snapshot#3"},
	"check_snapshot.version":          {"check_snapshot#4"},
	"check_snapshot.targets_versions": {"check_snapshot#5"},
	"check_snapshot.targets_listed":   {"check_snapshot#6"},
	"check_snapshot.expiry":           {"check_snapshot#7"},

	"check_targets.size":           {"check_targets#1"},
	"check_targets.snapshot_match": {"check_targets#2"},
	// a delegated role is signed by its delegator's keys, and a role that
	// fails its checks aborts the delegation resolution
	"check_targets.signatures":               {"check_targets#3", "delegations_meta#6", "resolve_delegations#3"},
	"check_targets.threshold":                {"check_targets#3"},
	"check_targets.version":                  {"check_targets#4"},
	"check_targets.expiry":                   {"check_targets#5"},
	"check_targets.director_no_delegations":  {"check_targets#6", "targets_role_delegations#7"},
	"check_targets.director_unique_ecus":     {"check_targets#7"},
	"check_targets.director_ecus_in_vehicle": {"check_targets#8"},

	"resolve_delegations.found":       {"resolve_delegations#9", "targets_images_meta#1"},
	"resolve_delegations.terminating": {"resolve_delegations#5", "targets_role_delegations#3"},
	"resolve_delegations.scope":       {"resolve_delegations#6"},
	"multirole_delegations.threshold": {"multirole_delegations#1", "multirole_delegations#7", "targets_role_delegations#6"},

	// the basic repository mapping: every image is signed by both repositories
	"full_verification.image_repository": {"repo_mapping_meta#1", "full_verification#3", "full_verification#11"},
	"full_verification.match_hashes":     {"full_verification#15", "full_verification#17", "repo_mapping_meta#3"},
	"full_verification.match_custom":     {"full_verification#18", "targets_custom_meta#3"},
	"full_verification.release_counter":  {"full_verification#19"},

	"download_image.size":          {"download_image#7"},
	"verify_image.hardware_id":     {"verify_image#2"},
	"verify_image.filename":        {"verify_image#3"},
	"verify_image.release_counter": {"verify_image#4"},
	"verify_image.decrypt":         {"verify_image#6"},
	"verify_image.hashes":          {"verify_image#8"},

	"in_vehicle.download_speed":  {"in_vehicle#3"},
	"in_vehicle.request_timeout": nil, // drop-request ({#threats}); no statement requires a timeout
	"verify_time.monotonic":      {"verify_time#1"},

	"send_images_primary.complete_bundle": {"send_images_primary#1"},

	"director_repository.manifest_signature": {"director_repository#5", "director_repository#8"},
	"director_repository.report_signature":   {"director_repository#5", "director_repository#9"},
	"director_repository.ecus_in_inventory":  {"director_repository#5"},
	"director_repository.all_ecus_reported":  {"director_repository#5", "director_repository#7"},
	"director_repository.nonce_fresh":        {"director_repository#11", "version_report#3"},
	"director_repository.encrypt_images":     {"targets_custom_meta#6"},

	"pouf.report_signature": nil, // the Primary checks what the Director will (director_repository#9) before it forwards
	"pouf.report_nonce":     {"version_report#3"},
	"pouf.transfer_size":    {"download_image#7"},
	"pouf.rate_limit":       nil, // denial of service on the bus ({#threats}); no statement
}
