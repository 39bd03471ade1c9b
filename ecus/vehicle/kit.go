package vehicle

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// The files of a provisioning kit (uptane-hil provision; docs/bench.md).
const (
	KitDirectorRoot = "director-root.json" // the Director's current Root
	KitImageRoot    = "image-root.json"    // the Image repository's current Root
	KitIdentityFile = "identity.json"      // KitIdentity
	KitKey          = "keys/ecu.key"       // the ECU's signing key (as uptane-hil ecu keeps it), 0600
	KitEncKey       = "keys/ecu-enc.key"   // the ECU's X25519 image key, 32 raw bytes, 0600
	KitTimeKey      = "time-key.json"      // the time server's public key (verify_time.attestation)
	// KitDirectorMetadata and KitImageMetadata hold the latest metadata the
	// ECU leaves the factory with (build_time.metadata): timestamp.json,
	// N.snapshot.json, N.targets.json; a partial-verification ECU gets the
	// Director's Targets only, also as targets.json, and no Image metadata.
	KitDirectorMetadata = "metadata/director"
	KitImageMetadata    = "metadata/image"
)

// KitIdentity is what a supplier flashes into an ECU so that this
// harness's Director and Primary recognise it: the identity DIDs of the
// in-vehicle protocol (docs/pouf.md, "Data identifiers") and the key the
// Director's inventory holds for it.
type KitIdentity struct {
	ECU          string `json:"ecu"`          // DID 0xF18C: ECU serial number = Uptane ECU identifier
	HardwareID   string `json:"hardwareId"`   // DID 0xF191: ECU hardware number = hardware identifier
	VIN          string `json:"vin"`          // DID 0xF190
	Verification string `json:"verification"` // DID 0xF1A5: full (0x01) or partial (0x02)
	Encrypted    bool   `json:"encrypted"`    // the Director encrypts its images for DID 0xF1A1's key
	// DIDs are the identity DIDs as the ECU answers ReadDataByIdentifier.
	DIDs map[string]string `json:"dids"`
	// PublicKey is the signing key the Director's inventory holds (DID
	// 0xF1A0), and KeyID its TUF key ID.
	PublicKey *metadata.Key `json:"publicKey"`
	KeyID     string        `json:"keyid"`
	// Keys says where the key pair comes from: "seed N" (derived from the
	// rig's seed, in keys/), or "rig public_key" (the ECU's own; the kit
	// holds no secret).
	Keys string `json:"keys"`
}

// WriteKit writes the provisioning kit of Secondary e of the backend v into
// dir: both repositories' Roots, the latest metadata it leaves the factory
// with, the time server's key, the ECU's identity and, only when the rig
// gives no public_key for it, its signing and (for an ECU with encrypted
// images) encryption keys, mode 0600, derived from the seed exactly as the
// Director's inventory and uptane-hil ecu derive them. It returns the files
// written, relative to dir.
func WriteKit(v *Vehicle, e *rigs.ECU, dir string) ([]string, error) {
	if e.Role != rigs.Secondary {
		return nil, fmt.Errorf("vehicle: provisioning kit: %s is the Primary, which runs in uptane-hil; a kit is for a Secondary", e.ID)
	}
	id := KitIdentity{ECU: e.ID, HardwareID: e.HardwareID, VIN: v.Rig.Vehicle.VIN, Verification: e.Profile, Encrypted: e.Encrypted,
		DIDs: map[string]string{"0xF18C": e.ID, "0xF191": e.HardwareID, "0xF190": v.Rig.Vehicle.VIN}}
	if e.Profile == rigs.Partial {
		id.DIDs["0xF1A5"] = "02"
	} else {
		id.DIDs["0xF1A5"] = "01"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vehicle: provisioning kit: %w", err)
	}
	write := func(name string, data []byte, perm os.FileMode) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("vehicle: provisioning kit: %w", err)
		}
		if err := atomicfile.Write(p, data, perm); err != nil {
			return fmt.Errorf("vehicle: provisioning kit: %s: %w", name, err)
		}
		return nil
	}
	files := []string{KitDirectorRoot, KitImageRoot}
	if err := write(KitDirectorRoot, v.Director.Root(), 0o644); err != nil {
		return nil, err
	}
	if err := write(KitImageRoot, v.Image.Root(), 0o644); err != nil {
		return nil, err
	}
	tk, err := json.Marshal(v.Time.PublicKey())
	if err != nil {
		return nil, err
	}
	if err := write(KitTimeKey, append(tk, '\n'), 0o644); err != nil {
		return nil, err
	}
	files = append(files, KitTimeKey)
	partial := e.Profile == rigs.Partial
	md, err := FactoryMetadata(v.directorFile, partial)
	if err != nil {
		return nil, err
	}
	sets := []struct {
		dir   string
		files map[string][]byte
	}{{KitDirectorMetadata, md}}
	if !partial {
		im, err := FactoryMetadata(v.imageFile, false)
		if err != nil {
			return nil, err
		}
		sets = append(sets, struct {
			dir   string
			files map[string][]byte
		}{KitImageMetadata, im})
	}
	for _, set := range sets {
		for _, name := range slices.Sorted(maps.Keys(set.files)) {
			rel := set.dir + "/" + name
			if err := write(rel, set.files[name], 0o644); err != nil {
				return nil, err
			}
			files = append(files, rel)
		}
	}
	if e.PublicKey != nil {
		id.PublicKey, id.Keys = e.PublicKey.Key(), "rig public_key"
	} else {
		k, ek, err := ECUKeys(v.Seed, e)
		if err != nil {
			return nil, err
		}
		id.PublicKey, id.Keys = k.Public(), fmt.Sprintf("seed %d", uint64(v.Seed))
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
			return nil, fmt.Errorf("vehicle: provisioning kit: %w", err)
		}
		if err := keys.Save(filepath.Join(dir, KitKey), k); err != nil {
			return nil, fmt.Errorf("vehicle: provisioning kit: %w", err)
		}
		files = append(files, KitKey)
		if ek != nil {
			if err := write(KitEncKey, ek.Bytes(), 0o600); err != nil {
				return nil, err
			}
			files = append(files, KitEncKey)
		}
	}
	kid, err := keys.ID(id.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("vehicle: provisioning kit: key of %s: %w", e.ID, err)
	}
	id.KeyID = kid
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := write(KitIdentityFile, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return append(files, KitIdentityFile), nil
}
