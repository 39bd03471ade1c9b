// Package meta is Uptane metadata on top of go-tuf v2's metadata types: the
// Uptane custom target fields (hardware identifiers, release counter, ECU
// identifiers, encrypted images), signing with a threshold of keys, and the
// file-naming rules of {#metadata_filename_rules}.
//
// Targets custom metadata has one "SHALL match" section, "uptane", that
// must be identical between the Director's and the Image repository's
// metadata for the same image ({#targets_images_meta}). The Director adds,
// outside that section, the ECU each image is for.
//
//	"custom": {
//	  "uptane": {"hardwareIds": ["brake-ctrl-v2"], "releaseCounter": 7},
//	  "ecuIdentifiers": {"BRK-0001": {"hardwareId": "brake-ctrl-v2"}}
//	}
package meta

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// Repository names.
const (
	Director = "director"
	Image    = "image"
)

// Top-level role names.
const (
	Root      = metadata.ROOT
	Timestamp = metadata.TIMESTAMP
	Snapshot  = metadata.SNAPSHOT
	Targets   = metadata.TARGETS
)

// ShallMatch is the "SHALL match" section of a target's custom metadata.
type ShallMatch struct {
	HardwareIDs    []string `json:"hardwareIds"`
	ReleaseCounter uint64   `json:"releaseCounter"`
}

// Equal reports whether two SHALL-match sections are identical.
func (s ShallMatch) Equal(o ShallMatch) bool {
	return s.ReleaseCounter == o.ReleaseCounter && slices.Equal(s.HardwareIDs, o.HardwareIDs)
}

// HasHardware reports whether hwid is one of the listed hardware identifiers.
func (s ShallMatch) HasHardware(hwid string) bool { return slices.Contains(s.HardwareIDs, hwid) }

// ECUTarget is what the Director says about an image for one ECU.
type ECUTarget struct {
	HardwareID string `json:"hardwareId"`
	// Encrypted is set when the image is encrypted for this ECU.
	Encrypted *Encrypted `json:"encrypted,omitempty"`
}

// Encrypted describes an image encrypted for one ECU ({#verify_image} step
// 6): the encrypted file's name, length and hashes, and the symmetric key
// wrapped for the ECU's encryption key.
type Encrypted struct {
	Filename   string            `json:"filename"`
	Length     int64             `json:"length"`
	Hashes     metadata.Hashes   `json:"hashes"`
	Algorithm  string            `json:"algorithm"`  // "AES-256-GCM"
	KeyWrap    string            `json:"keyWrap"`    // "X25519-HKDF-SHA256-AES-256-GCM"
	WrappedKey metadata.HexBytes `json:"wrappedKey"` // ephemeral public key || sealed key
	Nonce      metadata.HexBytes `json:"nonce"`
}

// Custom is a target's custom metadata.
type Custom struct {
	Uptane ShallMatch `json:"uptane"`
	// ECUIdentifiers is set by the Director only: the ECUs that SHOULD
	// install this image.
	ECUIdentifiers map[string]ECUTarget `json:"ecuIdentifiers,omitempty"`
	// URI is an optional download URL from the Director.
	URI string `json:"uri,omitempty"`
}

// ErrNoCustom: a target without custom metadata.
var ErrNoCustom = errors.New("target has no custom metadata")

// GetCustom decodes a target's custom metadata.
func GetCustom(tf *metadata.TargetFiles) (*Custom, error) {
	if tf == nil || tf.Custom == nil {
		return nil, ErrNoCustom
	}
	var c Custom
	dec := json.NewDecoder(bytes.NewReader(*tf.Custom))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("target %q: custom metadata: %w", tf.Path, err)
	}
	return &c, nil
}

// SetCustom encodes c into the target's custom metadata.
func SetCustom(tf *metadata.TargetFiles, c *Custom) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	raw := json.RawMessage(b)
	tf.Custom = &raw
	return nil
}

// Canonical returns the canonical JSON of v (the bytes that are signed).
func Canonical(v any) ([]byte, error) { return cjson.EncodeCanonical(v) }

// Sign signs the Signed part of m with every signer, replacing earlier
// signatures by the same keys.
func Sign[T metadata.Roles](m *metadata.Metadata[T], signers ...keys.Signer) error {
	payload, err := cjson.EncodeCanonical(m.Signed)
	if err != nil {
		return fmt.Errorf("meta: canonical JSON: %w", err)
	}
	for _, s := range signers {
		sig, err := s.Sign(payload)
		if err != nil {
			return fmt.Errorf("meta: sign with %s: %w", s.KeyID(), err)
		}
		kept := m.Signatures[:0]
		for _, old := range m.Signatures {
			if old.KeyID != s.KeyID() {
				kept = append(kept, old)
			}
		}
		m.Signatures = append(kept, metadata.Signature{KeyID: s.KeyID(), Signature: sig})
	}
	return nil
}

// CountSignatures returns how many distinct keys among keyIDs made a valid
// signature over payload. A key listed twice, or two key IDs for the same
// public key, count once.
func CountSignatures(payload []byte, sigs []metadata.Signature, allKeys map[string]*metadata.Key, keyIDs []string) int {
	allowed := map[string]bool{}
	for _, id := range keyIDs {
		allowed[id] = true
	}
	seen := map[string]bool{}
	n := 0
	for _, s := range sigs {
		if !allowed[s.KeyID] {
			continue
		}
		k, ok := allKeys[s.KeyID]
		if !ok || k == nil {
			continue
		}
		pubID := k.Type + "/" + k.Value.PublicKey
		if seen[pubID] {
			continue
		}
		if keys.Verify(k, payload, s.Signature) == nil {
			seen[pubID] = true
			n++
		}
	}
	return n
}

// VersionedName is the repository file name of version v of a role's
// metadata: "7.snapshot.json" ({#metadata_filename_rules} rule 1).
func VersionedName(version int64, role string) string {
	return strconv.FormatInt(version, 10) + "." + role + ".json"
}

// UnversionedName is "timestamp.json".
func UnversionedName(role string) string { return role + ".json" }

// EscapeRole percent-encodes a role name for use in a metadata file name,
// in a URL and on disk: every byte but A–Z a–z 0–9 - . _ ~ becomes %XX
// (as TUF clients do, Python's urllib.parse.quote(name, safe="")). A role
// named "?" is fetched as "1.%3F.json"; "/x" as "1.%2Fx.json", so the
// result never contains a path separator. The name is escaped once: a URL
// built from it must not escape it again.
func EscapeRole(role string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(role); i++ {
		c := role[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*$`)

// ValidTargetName rejects names that could traverse paths on a client
// ({#metadata_filename_rules} rule 3).
func ValidTargetName(name string) error {
	if len(name) == 0 || len(name) > 255 {
		return fmt.Errorf("target name %q: length must be 1..255", name)
	}
	if !safeName.MatchString(name) {
		return fmt.Errorf("target name %q: only letters, digits, . _ + - and / between parts are allowed", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "." || part == ".." {
			return fmt.Errorf("target name %q: . and .. are not allowed", name)
		}
	}
	return nil
}

// ImageNames returns the repository file names of an image, one per hash:
// "HASH.FILENAME.EXT" ({#metadata_filename_rules} rule 2), with the hash
// placed before the last path element.
func ImageNames(targetName string, hashes metadata.Hashes) []string {
	dir, base := "", targetName
	if i := strings.LastIndex(targetName, "/"); i >= 0 {
		dir, base = targetName[:i+1], targetName[i+1:]
	}
	var out []string
	for _, alg := range slices.Sorted(maps.Keys(hashes)) {
		out = append(out, dir+hex.EncodeToString(hashes[alg])+"."+base)
	}
	return out
}

// NewHash returns the hash function named in metadata ("sha256", "sha512").
func NewHash(alg string) (hash.Hash, error) {
	switch alg {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported hash function %q", alg)
}

// HashesOf computes sha256 and sha512 of data, as the repositories list them.
func HashesOf(data []byte) metadata.Hashes {
	a := sha256.Sum256(data)
	b := sha512.Sum512(data)
	return metadata.Hashes{"sha256": a[:], "sha512": b[:]}
}

// CheckHashes verifies the length and every listed hash of data; an
// unsupported hash function is an error, never skipped, and at least one
// hash must be listed.
func CheckHashes(data []byte, length int64, hashes metadata.Hashes) error {
	if int64(len(data)) != length {
		return fmt.Errorf("length %d, metadata says %d", len(data), length)
	}
	if len(hashes) == 0 {
		return errors.New("metadata lists no hashes")
	}
	for _, alg := range slices.Sorted(maps.Keys(hashes)) {
		h, err := NewHash(alg)
		if err != nil {
			return err
		}
		h.Write(data)
		if !bytes.Equal(h.Sum(nil), hashes[alg]) {
			return fmt.Errorf("%s hash mismatch", alg)
		}
	}
	return nil
}

// VINField is the key, in the Director Targets' "custom" object, of the
// vehicle identifier: {"signed": {..., "custom": {"vin": "VIN123"}}}
// ({#targets_images_meta}). The Director always writes it, and every ECU
// checks it (targets_images_meta.vehicle_id), so Targets metadata for one
// vehicle (even one without images) cannot be replayed to another.
const VINField = "vin"

// SetVIN names the vehicle in Director Targets.
func SetVIN(t *metadata.TargetsType, vin string) {
	if t.UnrecognizedFields == nil {
		t.UnrecognizedFields = map[string]any{}
	}
	c, _ := t.UnrecognizedFields["custom"].(map[string]any)
	if c == nil {
		c = map[string]any{}
	}
	c[VINField] = vin
	t.UnrecognizedFields["custom"] = c
}

// VINOf returns the vehicle Director Targets name, or "" when they name none.
func VINOf(t *metadata.TargetsType) string {
	c, _ := t.UnrecognizedFields["custom"].(map[string]any)
	vin, _ := c[VINField].(string)
	return vin
}
