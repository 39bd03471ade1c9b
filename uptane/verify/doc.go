// Package verify is the client-side verification of Uptane metadata every
// ECU runs, following the Standard 2.1.0 step by step: check_root,
// check_timestamp, check_snapshot, check_targets (Update methods),
// resolve_delegations and multirole_delegations (Update.ResolveDelegations,
// Update.MultiroleDelegations), full and partial verification
// (FullVerification, PartialVerification) and verify_image (VerifyImage).
//
// It builds on go-tuf v2's metadata types but not on its trustedmetadata:
// every check is named by an ID of uptane/check, consults the
// check.Profile (control profiles switch exactly one check off) and fails
// with a *check.Error. Time always comes from the caller (Options.Time,
// the latest securely attested time). The trusted state of a repository
// (Repo) changes only when a whole update succeeds.
//
// Delegations may carry Uptane's hardware-identifier scoping and TAP-3
// multi-role delegations as extra fields of go-tuf's DelegatedRole; see
// meta.FieldHardwareIDs and docs/verification.md.
package verify
