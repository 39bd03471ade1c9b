// Package manifest is what ECUs tell the Director: ECU version reports
// ({#version_report}) and the vehicle version manifest the Primary builds
// from them ({#vehicle_version_manifest}).
//
// Both are a signed payload plus a list of signatures. What is signed is the
// canonical JSON (meta.Canonical) of the payload. Each signature entry
// carries what the Standard lists: the key identifier (TUF key ID), the
// signing method (the key's TUF scheme: "ed25519", "ecdsa-sha2-nistp256",
// "ecdsa-sha2-nistp384" or "rsassa-pss-sha256"), the hash function
// ("sha256") and the SHA-256 of the canonical payload, and the signature.
// The signature covers the canonical payload exactly as a TUF metadata
// signature by the same key would (keys.Signer, keys.Verify): ed25519 the
// bytes themselves, ECDSA their SHA-256 or SHA-384, RSA-PSS their SHA-256.
//
// Wire form of a vehicle manifest:
//
//	{"signatures": [{"keyid": "…", "method": "ed25519", "hash_function": "sha256",
//	                 "hash": "…hex…", "sig": "…hex…"}],
//	 "signed": {"vin": "VIN123", "primary_ecu_serial": "PRI-1",
//	   "ecu_version_reports": [
//	     {"signatures": […],
//	      "signed": {"ecu_serial": "PRI-1",
//	        "installed_image": {"filename": "fw.bin", "length": 12, "hashes": {"sha256": "…"}},
//	        "attacks_detected": [{"check": check.TimestampExpiry, "attack": "freeze", "detail": "…"}],
//	        "latest_time": "2030-01-01T00:00:00Z", "nonce": "…hex…", "report_counter": 7}}]}}
//
// "attacks_detected" is a list (empty when none): one entry per failed check
// this cycle, naming the check ID of uptane/check, the attack, and a detail.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"golang.org/x/text/unicode/norm"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Size limits that Parse enforces on data a peer controls.
const (
	// MaxManifestSize is the default cap on an encoded vehicle manifest.
	MaxManifestSize = 1 << 20
	// MaxReportSize is the default cap on an encoded ECU version report.
	MaxReportSize = 64 << 10
	MaxReports    = 256 // ECU version reports per manifest
	MaxAttacks    = 64  // attack entries per report
	MaxSignatures = 16  // signature entries per signed object
	MaxNonce      = 64  // bytes
	MaxString     = 512 // identifiers, filenames, details
	MaxSigBytes   = 512 // one signature: RSA-4096 is 512 bytes, ed25519 64, ECDSA P-384 ≤ 104
	MaxHashes     = 8   // hash entries of the installed image
)

// Signing methods and the hash function recorded in signature entries.
const (
	MethodEd25519   = keys.SchemeEd25519   // "ed25519"
	MethodECDSAP256 = keys.SchemeECDSAP256 // "ecdsa-sha2-nistp256"
	MethodECDSAP384 = keys.SchemeECDSAP384 // "ecdsa-sha2-nistp384"
	MethodRSAPSS    = keys.SchemeRSAPSS    // "rsassa-pss-sha256"
	HashSHA256      = "sha256"
)

// Signature is one signature over a payload ({#version_report}: key
// identifier, signing method, hashing function, hash of the payload,
// signature).
type Signature struct {
	KeyID        string            `json:"keyid"`
	Method       string            `json:"method"`
	HashFunction string            `json:"hash_function"`
	Hash         metadata.HexBytes `json:"hash"`
	Sig          metadata.HexBytes `json:"sig"`
}

// Image is the non-custom Targets metadata of an installed image.
type Image struct {
	Filename string          `json:"filename"`
	Length   int64           `json:"length"`
	Hashes   metadata.Hashes `json:"hashes"`
}

// DetectedAttack is one attack an ECU detected: the check that stopped it.
type DetectedAttack struct {
	Check  check.ID     `json:"check"`
	Attack check.Attack `json:"attack"`
	Detail string       `json:"detail"`
}

// AttackFrom turns a failed check into a DetectedAttack (nil when err is
// not a *check.Error).
func AttackFrom(err error) *DetectedAttack {
	ce, ok := check.As(err)
	if !ok {
		return nil
	}
	d := ce.Error()
	if len(d) > MaxString {
		d = d[:MaxString]
	}
	return &DetectedAttack{Check: ce.Check, Attack: ce.Attack, Detail: d}
}

// ECUVersionReport is the payload an ECU signs each update cycle.
type ECUVersionReport struct {
	ECUSerial string `json:"ecu_serial"`
	Installed Image  `json:"installed_image"`
	// Attacks lists the attacks detected this cycle; empty when none.
	Attacks []DetectedAttack `json:"attacks_detected"`
	// LatestTime is the latest time the ECU can verify.
	LatestTime time.Time `json:"latest_time"`
	// Nonce is the value the Primary wrote to the ECU this cycle.
	Nonce metadata.HexBytes `json:"nonce"`
	// Counter increases by at least one with every report the ECU makes.
	Counter uint64 `json:"report_counter"`
}

// SignedReport is a signed ECU version report.
type SignedReport struct {
	Signatures []Signature      `json:"signatures"`
	Signed     ECUVersionReport `json:"signed"`
}

// VehicleManifest is the payload the Primary signs.
type VehicleManifest struct {
	VIN       string         `json:"vin"`
	PrimaryID string         `json:"primary_ecu_serial"`
	Reports   []SignedReport `json:"ecu_version_reports"`
	// AktualizrReports are the signed ECU manifests of aktualizr-secondaries
	// (uptane/akdialect), as they sent them: another shape, another
	// signature encoding, no nonce. Omitted when none.
	AktualizrReports []json.RawMessage `json:"aktualizr_ecu_version_reports,omitempty"`
	// Refusals are the Secondaries that refused to be programmed this
	// cycle, in the Primary's words (omitted when none).
	Refusals []Refusal `json:"programming_refusals,omitempty"`
}

// Refusal is the Primary's account of a Secondary that refused to be
// programmed in this cycle with NRC 0x22 conditionsNotCorrect: its
// preconditions on the vehicle's state (vehicle speed 0, ignition on) did
// not hold (docs/restbus.md). It tells the Director why that ECU did not
// install yet. Not a field of the Standard's manifest (which may carry
// more than it lists); signed with the manifest, so it is the Primary's
// word; Conditions are the ECU's own words as the Primary read them.
type Refusal struct {
	ECUSerial string `json:"ecu_serial"`
	// Step is the Primary's step the ECU refused: "send metadata",
	// "verify metadata", "send image" or "install".
	Step string `json:"step"`
	NRC  uint8  `json:"nrc"` // 0x22
	// Conditions says which preconditions did not hold when last asked
	// (pouf DID 0xF1A9); "" when the ECU did not say.
	Conditions string `json:"conditions"`
	// WaitedMillis is how long the Primary waited for the conditions.
	WaitedMillis int64 `json:"waited_ms"`
	// Outcome: RefusalResumed (the conditions came to hold and the update
	// went on) or RefusalGaveUp (the wait ran out; the ECU keeps its image
	// and the Director's assignment stands for the next cycle).
	Outcome string `json:"outcome"`
}

// Outcomes of a Refusal.
const (
	RefusalResumed = "resumed"
	RefusalGaveUp  = "gave-up"
)

func (r *Refusal) validate(where string) error {
	for _, f := range []struct{ name, v string }{{"ecu_serial", r.ECUSerial}, {"step", r.Step}, {"conditions", r.Conditions}} {
		if err := checkString(where, f.name, f.v, f.name != "conditions"); err != nil {
			return err
		}
	}
	if r.Outcome != RefusalResumed && r.Outcome != RefusalGaveUp {
		return fmt.Errorf("manifest: %s: outcome %q is not %s or %s", where, r.Outcome, RefusalResumed, RefusalGaveUp)
	}
	if r.WaitedMillis < 0 {
		return fmt.Errorf("manifest: %s: waited_ms %d is negative", where, r.WaitedMillis)
	}
	return nil
}

// SignedManifest is a signed vehicle version manifest.
type SignedManifest struct {
	Signatures []Signature     `json:"signatures"`
	Signed     VehicleManifest `json:"signed"`
}

// NewReport builds an ECU version report. The time is truncated to whole
// seconds in UTC so that its encoding is stable.
func NewReport(ecu string, installed Image, attacks []DetectedAttack, latest time.Time, nonce []byte, counter uint64) ECUVersionReport {
	// A detail quotes what the ECU was sent, which an attacker chooses: keep
	// it UTF-8 in NFC, or the Director would refuse the whole manifest
	// ({#meta_structures}, ParseManifest).
	clean := make([]DetectedAttack, len(attacks))
	for i, a := range attacks {
		a.Detail = norm.NFC.String(strings.ToValidUTF8(a.Detail, "\uFFFD"))
		clean[i] = a
	}
	attacks = clean
	return ECUVersionReport{ECUSerial: ecu, Installed: installed, Attacks: attacks,
		LatestTime: latest.UTC().Truncate(time.Second), Nonce: append(metadata.HexBytes{}, nonce...), Counter: counter}
}

// Report returns the Report for ECU ecu in m, if any.
func (m *VehicleManifest) Report(ecu string) (*SignedReport, bool) {
	for i := range m.Reports {
		if m.Reports[i].Signed.ECUSerial == ecu {
			return &m.Reports[i], true
		}
	}
	return nil, false
}

// Method returns the signing method of a TUF key: its scheme, once the key
// is known to be one this project verifies (keys.Verify).
func Method(k *metadata.Key) (string, error) {
	m, err := keys.Scheme(k)
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

func sign(payload any, sigs []Signature, s keys.Signer) ([]Signature, error) {
	b, err := meta.Canonical(payload)
	if err != nil {
		return nil, fmt.Errorf("manifest: canonical JSON: %w", err)
	}
	method, err := Method(s.Public())
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(b)
	if err != nil {
		return nil, fmt.Errorf("manifest: sign with %s: %w", s.KeyID(), err)
	}
	h := sha256.Sum256(b)
	kept := sigs[:0:0]
	for _, old := range sigs {
		if old.KeyID != s.KeyID() {
			kept = append(kept, old)
		}
	}
	return append(kept, Signature{KeyID: s.KeyID(), Method: method, HashFunction: HashSHA256, Hash: h[:], Sig: sig}), nil
}

// ErrNoSignature: no signature entry by the given key verifies.
var ErrNoSignature = errors.New("manifest: no valid signature by the expected key")

func verify(what string, payload any, sigs []Signature, key *metadata.Key) error {
	id, err := keys.ID(key)
	if err != nil {
		return fmt.Errorf("manifest: %s: bad key: %w", what, err)
	}
	method, err := Method(key)
	if err != nil {
		return err
	}
	b, err := meta.Canonical(payload)
	if err != nil {
		return fmt.Errorf("manifest: %s: canonical JSON: %w", what, err)
	}
	h := sha256.Sum256(b)
	var last error
	for _, s := range sigs {
		if s.KeyID != id {
			continue
		}
		switch {
		case s.Method != method:
			last = fmt.Errorf("method %q, key %s is %q", s.Method, short(id), method)
		case s.HashFunction != HashSHA256:
			last = fmt.Errorf("unsupported hash function %q", s.HashFunction)
		case !bytes.Equal(s.Hash, h[:]):
			last = fmt.Errorf("payload hash %s does not match the payload (%s): tampered", short(hex.EncodeToString(s.Hash)), short(hex.EncodeToString(h[:])))
		default:
			if err := keys.Verify(key, b, s.Sig); err != nil {
				last = err
				continue
			}
			return nil
		}
	}
	if last != nil {
		return fmt.Errorf("%w: %s: key %s: %v", ErrNoSignature, what, short(id), last)
	}
	return fmt.Errorf("%w: %s: no signature by key %s", ErrNoSignature, what, short(id))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// SignReport signs an ECU version report with the ECU's key.
func SignReport(r ECUVersionReport, s keys.Signer) (SignedReport, error) {
	sigs, err := sign(r, nil, s)
	if err != nil {
		return SignedReport{}, err
	}
	return SignedReport{Signatures: sigs, Signed: r}, nil
}

// Sign adds (or replaces) the signature by s.
func (sr *SignedReport) Sign(s keys.Signer) error {
	sigs, err := sign(sr.Signed, sr.Signatures, s)
	if err != nil {
		return err
	}
	sr.Signatures = sigs
	return nil
}

// Verify checks that the report carries a valid signature by key.
func (sr *SignedReport) Verify(key *metadata.Key) error {
	return verify("ECU version report of "+quote(sr.Signed.ECUSerial), sr.Signed, sr.Signatures, key)
}

// SignManifest signs a vehicle manifest with the Primary's key.
func SignManifest(m VehicleManifest, s keys.Signer) (SignedManifest, error) {
	sigs, err := sign(m, nil, s)
	if err != nil {
		return SignedManifest{}, err
	}
	return SignedManifest{Signatures: sigs, Signed: m}, nil
}

// Sign adds (or replaces) the signature by s.
func (sm *SignedManifest) Sign(s keys.Signer) error {
	sigs, err := sign(sm.Signed, sm.Signatures, s)
	if err != nil {
		return err
	}
	sm.Signatures = sigs
	return nil
}

// Verify checks that the manifest carries a valid signature by key (the
// Primary's). It does not verify the ECU version reports inside.
func (sm *SignedManifest) Verify(key *metadata.Key) error {
	return verify("vehicle manifest of "+quote(sm.Signed.VIN), sm.Signed, sm.Signatures, key)
}

// Encode returns the JSON encoding of the signed manifest.
func (sm *SignedManifest) Encode() ([]byte, error) { return json.Marshal(sm) }

// Encode returns the JSON encoding of the signed report.
func (sr *SignedReport) Encode() ([]byte, error) { return json.Marshal(sr) }

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// ParseManifest decodes a signed vehicle manifest strictly: at most max
// bytes (MaxManifestSize when max <= 0), no unknown fields, no trailing
// data, every bound of this package respected. It does not verify
// signatures.
func ParseManifest(data []byte, max int) (*SignedManifest, error) {
	if max <= 0 {
		max = MaxManifestSize
	}
	if len(data) > max {
		return nil, fmt.Errorf("manifest: vehicle manifest is %d bytes, more than the limit of %d", len(data), max)
	}
	var sm SignedManifest
	if err := decodeStrict(data, &sm); err != nil {
		return nil, fmt.Errorf("manifest: vehicle manifest: %w", err)
	}
	if err := sm.validate(); err != nil {
		return nil, err
	}
	return &sm, nil
}

// ParseReport decodes a signed ECU version report strictly (see
// ParseManifest; MaxReportSize when max <= 0).
func ParseReport(data []byte, max int) (*SignedReport, error) {
	if max <= 0 {
		max = MaxReportSize
	}
	if len(data) > max {
		return nil, fmt.Errorf("manifest: ECU version report is %d bytes, more than the limit of %d", len(data), max)
	}
	var sr SignedReport
	if err := decodeStrict(data, &sr); err != nil {
		return nil, fmt.Errorf("manifest: ECU version report: %w", err)
	}
	if err := sr.validate("ECU version report"); err != nil {
		return nil, err
	}
	return &sr, nil
}

// ReadManifest reads at most max bytes (MaxManifestSize when max <= 0) from r
// and parses them; a longer body is an error, never read whole.
func ReadManifest(r io.Reader, max int) (*SignedManifest, error) {
	if max <= 0 {
		max = MaxManifestSize
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: read vehicle manifest: %w", err)
	}
	return ParseManifest(data, max)
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return meta.CheckStrings(data)
}

func checkString(where, field, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("manifest: %s: field %s is empty", where, field)
	}
	if len(s) > MaxString {
		return fmt.Errorf("manifest: %s: field %s is %d bytes, more than %d", where, field, len(s), MaxString)
	}
	return nil
}

func validateSigs(where string, sigs []Signature) error {
	if len(sigs) == 0 {
		return fmt.Errorf("manifest: %s: no signatures", where)
	}
	if len(sigs) > MaxSignatures {
		return fmt.Errorf("manifest: %s: %d signatures, more than %d", where, len(sigs), MaxSignatures)
	}
	for i, s := range sigs {
		w := fmt.Sprintf("%s: signatures[%d]", where, i)
		if err := checkString(w, "keyid", s.KeyID, true); err != nil {
			return err
		}
		if err := checkString(w, "method", s.Method, true); err != nil {
			return err
		}
		if err := checkString(w, "hash_function", s.HashFunction, true); err != nil {
			return err
		}
		if len(s.Hash) == 0 || len(s.Hash) > 64 {
			return fmt.Errorf("manifest: %s: field hash has %d bytes, want 1..64", w, len(s.Hash))
		}
		if len(s.Sig) == 0 || len(s.Sig) > MaxSigBytes {
			return fmt.Errorf("manifest: %s: field sig has %d bytes, want 1..%d", w, len(s.Sig), MaxSigBytes)
		}
	}
	return nil
}

func (sr *SignedReport) validate(where string) error {
	if err := validateSigs(where, sr.Signatures); err != nil {
		return err
	}
	r := &sr.Signed
	where += " of " + quote(r.ECUSerial)
	if err := checkString(where, "ecu_serial", r.ECUSerial, true); err != nil {
		return err
	}
	if err := checkString(where, "installed_image.filename", r.Installed.Filename, false); err != nil {
		return err
	}
	if r.Installed.Length < 0 {
		return fmt.Errorf("manifest: %s: installed_image.length %d is negative", where, r.Installed.Length)
	}
	if len(r.Installed.Hashes) > MaxHashes {
		return fmt.Errorf("manifest: %s: installed_image.hashes has %d entries, more than %d", where, len(r.Installed.Hashes), MaxHashes)
	}
	for alg, h := range r.Installed.Hashes {
		if len(alg) > 32 || len(h) > 128 {
			return fmt.Errorf("manifest: %s: installed_image.hashes entry %s is too long", where, quote(alg))
		}
	}
	if r.Attacks == nil {
		return fmt.Errorf("manifest: %s: field attacks_detected is missing (use [] when none)", where)
	}
	if len(r.Attacks) > MaxAttacks {
		return fmt.Errorf("manifest: %s: %d attacks_detected entries, more than %d", where, len(r.Attacks), MaxAttacks)
	}
	for i, a := range r.Attacks {
		w := fmt.Sprintf("%s: attacks_detected[%d]", where, i)
		if err := checkString(w, "check", a.Check.String(), false); err != nil {
			return err
		}
		if err := checkString(w, "attack", string(a.Attack), false); err != nil {
			return err
		}
		if err := checkString(w, "detail", a.Detail, false); err != nil {
			return err
		}
	}
	if r.LatestTime.IsZero() {
		return fmt.Errorf("manifest: %s: field latest_time is missing", where)
	}
	if len(r.Nonce) == 0 || len(r.Nonce) > MaxNonce {
		return fmt.Errorf("manifest: %s: nonce has %d bytes, want 1..%d", where, len(r.Nonce), MaxNonce)
	}
	return nil
}

func (sm *SignedManifest) validate() error {
	where := "vehicle manifest"
	if err := validateSigs(where, sm.Signatures); err != nil {
		return err
	}
	m := &sm.Signed
	if err := checkString(where, "vin", m.VIN, true); err != nil {
		return err
	}
	where += " of " + quote(m.VIN)
	if err := checkString(where, "primary_ecu_serial", m.PrimaryID, true); err != nil {
		return err
	}
	if len(m.Reports)+len(m.AktualizrReports) > MaxReports {
		return fmt.Errorf("manifest: %s: %d ECU version reports, more than %d", where, len(m.Reports)+len(m.AktualizrReports), MaxReports)
	}
	for i, r := range m.AktualizrReports {
		if len(r) > MaxReportSize {
			return fmt.Errorf("manifest: %s: aktualizr_ecu_version_reports[%d] is %d bytes, more than %d", where, i, len(r), MaxReportSize)
		}
	}
	if len(m.Refusals) > MaxReports {
		return fmt.Errorf("manifest: %s: %d programming refusals, more than %d", where, len(m.Refusals), MaxReports)
	}
	for i := range m.Refusals {
		if err := m.Refusals[i].validate(fmt.Sprintf("%s: programming_refusals[%d]", where, i)); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i := range m.Reports {
		if err := m.Reports[i].validate(fmt.Sprintf("%s: ecu_version_reports[%d]", where, i)); err != nil {
			return err
		}
		id := m.Reports[i].Signed.ECUSerial
		if seen[id] {
			return fmt.Errorf("manifest: %s: ECU %s reports twice", where, quote(id))
		}
		seen[id] = true
	}
	return nil
}
