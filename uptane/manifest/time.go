package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// Limits of a time attestation.
const (
	MaxTimeAttestation = 8 << 10 // bytes of a signed attestation
	MaxTimeNonces      = 64      // nonces one attestation covers
)

// TimeAttestation is a time server's signed statement of the current time,
// over the fresh nonces the ECUs asking for it made ({#verify_time}: "the
// latest securely attested time"; docs/pouf.md, "Time"). An ECU takes the
// time only from an attestation signed by the time server's key (given it
// at the factory) that carries the nonce it made for this request, so a
// recorded attestation cannot be replayed and nobody without that key can
// set its time.
type TimeAttestation struct {
	Time   time.Time           `json:"time"`
	Nonces []metadata.HexBytes `json:"nonces"`
}

// SignedTimeAttestation is a signed time attestation.
type SignedTimeAttestation struct {
	Signatures []Signature     `json:"signatures"`
	Signed     TimeAttestation `json:"signed"`
}

// SignTime signs a time attestation with the time server's key.
func SignTime(a TimeAttestation, s keys.Signer) (SignedTimeAttestation, error) {
	a.Time = a.Time.UTC().Truncate(time.Second)
	sigs, err := sign(a, nil, s)
	if err != nil {
		return SignedTimeAttestation{}, err
	}
	return SignedTimeAttestation{Signatures: sigs, Signed: a}, nil
}

// Verify checks that the attestation carries a valid signature by key.
func (st *SignedTimeAttestation) Verify(key *metadata.Key) error {
	return verify("time attestation", st.Signed, st.Signatures, key)
}

// HasNonce reports whether the attestation covers nonce n.
func (a TimeAttestation) HasNonce(n []byte) bool {
	for _, x := range a.Nonces {
		if len(n) > 0 && bytes.Equal(x, n) {
			return true
		}
	}
	return false
}

// Encode returns the JSON encoding of the signed attestation.
func (st *SignedTimeAttestation) Encode() ([]byte, error) { return json.Marshal(st) }

// ParseTimeAttestation decodes a signed time attestation strictly: at most
// MaxTimeAttestation bytes, no unknown fields, a time, 1..MaxTimeNonces
// nonces of 1..MaxNonce bytes, at least one signature.
func ParseTimeAttestation(data []byte) (*SignedTimeAttestation, error) {
	if len(data) > MaxTimeAttestation {
		return nil, fmt.Errorf("manifest: time attestation is %d bytes, more than the limit of %d", len(data), MaxTimeAttestation)
	}
	var st SignedTimeAttestation
	if err := decodeStrict(data, &st); err != nil {
		return nil, fmt.Errorf("manifest: time attestation: %w", err)
	}
	switch {
	case st.Signed.Time.IsZero():
		return nil, fmt.Errorf("manifest: time attestation: no time")
	case len(st.Signed.Nonces) == 0 || len(st.Signed.Nonces) > MaxTimeNonces:
		return nil, fmt.Errorf("manifest: time attestation: %d nonces, want 1..%d", len(st.Signed.Nonces), MaxTimeNonces)
	case len(st.Signatures) == 0:
		return nil, fmt.Errorf("manifest: time attestation: not signed")
	}
	for i, n := range st.Signed.Nonces {
		if len(n) == 0 || len(n) > MaxNonce {
			return nil, fmt.Errorf("manifest: time attestation: nonce %d of %d bytes, want 1..%d", i, len(n), MaxNonce)
		}
	}
	return &st, nil
}
