package verify

import (
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// TimeInput is what an ECU knows when it is handed a time ({#verify_time},
// {#check_time_primary}).
type TimeInput struct {
	Profile check.Profile
	// Key is the time server's public key, given to the ECU at the factory.
	Key *metadata.Key
	// Nonce is the nonce the ECU made for this attestation.
	Nonce []byte
	// Latest is the latest attested time the ECU holds.
	Latest time.Time
	// Director is the ECU's trusted Director repository: its Root's expiry
	// bounds the time (verify_time.bound).
	Director *Repo
}

// VerifyTime is {#verify_time}: it returns the time of a time attestation
// if the ECU can take it as its latest securely attested time.
//
//   - verify_time.attestation: data is a time attestation signed by the
//     time server's key that covers the ECU's nonce. With the check off (a
//     control), an 8-byte Unix time, or any attestation, is taken as it is.
//   - verify_time.monotonic: the time is not before the latest one.
//   - verify_time.bound: the time is not after the expiry of the trusted
//     Director Root. An ECU whose time is beyond it refuses every
//     metadata forever (nothing can renew a Root it sees as expired); one
//     that refuses the time keeps its latest time, can still take a new
//     Root, and then a time within it.
func VerifyTime(in TimeInput, data []byte, raw func([]byte) (time.Time, error)) (time.Time, error) {
	var t time.Time
	att, err := manifest.ParseTimeAttestation(data)
	switch {
	case err == nil && !in.Profile.On(check.VerifyTimeAttestation):
		t = att.Signed.Time
	case err == nil:
		if in.Key == nil {
			return t, check.Fail(check.VerifyTimeAttestation, "", "", "no time server key was provisioned")
		}
		if err := att.Verify(in.Key); err != nil {
			id, _ := keys.ID(in.Key)
			return t, check.Fail(check.VerifyTimeAttestation, "", "", "not signed by the time server's key %.8s", id).Wrap(err)
		}
		if !att.Signed.HasNonce(in.Nonce) {
			return t, check.Fail(check.VerifyTimeAttestation, "", "", "the attestation of %s does not cover this ECU's nonce %x: replayed or made for another request", tstr(att.Signed.Time), in.Nonce)
		}
		t = att.Signed.Time
	case in.Profile.On(check.VerifyTimeAttestation) || raw == nil:
		return t, check.Fail(check.VerifyTimeAttestation, "", "", "%d bytes that are not a signed time attestation: an unauthenticated time is refused", len(data)).Wrap(err)
	default:
		if t, err = raw(data); err != nil {
			return t, err
		}
	}
	if t.Before(in.Latest) && in.Profile.On(check.VerifyTimeMonotonic) {
		return t, check.Fail(check.VerifyTimeMonotonic, "", "", "time %s is before the latest attested time %s", tstr(t), tstr(in.Latest))
	}
	if in.Director != nil && in.Profile.On(check.VerifyTimeBound) {
		if exp := in.Director.Root().Signed.Expires; t.After(exp) {
			return t, check.Fail(check.VerifyTimeBound, meta.Director, meta.Root, "time %s is after the trusted Director Root (version %d) expires at %s: taking it would refuse every update from now on", tstr(t), in.Director.Root().Signed.Version, tstr(exp))
		}
	}
	return t, nil
}
