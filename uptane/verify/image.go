package verify

import (
	"errors"
	"fmt"
	"path"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ErrNoTarget: the Director's Targets list no image for this ECU
// ({#download_image} step 4: "report that there is no such image").
var ErrNoTarget = errors.New("verify: no Director target for this ECU")

// Decrypter decrypts an image encrypted for this ECU ({#verify_image} step
// 6), with enc the Director's description of the encrypted image. The ECU
// supplies it (its key never reaches this package).
type Decrypter func(enc *meta.Encrypted, ciphertext []byte) ([]byte, error)

// ECU is what VerifyImage needs to know about the ECU installing an image.
type ECU struct {
	ID         string
	HardwareID string
	// Filenames are shell-style patterns ("brakes/*.bin") of image
	// filenames valid for this ECU; empty allows any valid name.
	Filenames []string
	// ReleaseCounter is the release counter of the installed image, nil
	// when nothing (or nothing known) is installed.
	ReleaseCounter *uint64
	// Decrypt decrypts images encrypted for this ECU.
	Decrypt Decrypter
}

// VerifyImage is {#verify_image}: with the latest trusted Director Targets
// (1) find the target for ecu.ID (2), check the hardware identifier (3),
// that the filename is valid for this ECU (4), that the release counter
// does not go down (5), decrypt an encrypted image (6), and check the
// length and every hash of the (decrypted) image (7). It returns the image
// to install.
func VerifyImage(o Options, dir *Repo, ecu ECU, image []byte) ([]byte, error) {
	fail := func(id check.ID, format string, args ...any) *check.Error {
		return check.Fail(id, meta.Director, meta.Targets, format, args...).OnECU(ecu.ID)
	}
	// Steps 1–2.
	if dir == nil || dir.targets == nil {
		return nil, fmt.Errorf("%w %s: no trusted Director Targets", ErrNoTarget, ecu.ID)
	}
	u := &Update{w: dir}
	ts, _ := directorTargets(u, Scope{ECUs: []string{ecu.ID}})
	t := ts[ecu.ID]
	if t == nil {
		return nil, fmt.Errorf("%w %s (Director Targets version %d)", ErrNoTarget, ecu.ID, dir.targets.Signed.Version)
	}
	// Step 3: hardware identifier.
	if o.on(check.VerifyImageHardwareID) && (t.HardwareID != ecu.HardwareID || !t.Custom.Uptane.HasHardware(ecu.HardwareID)) {
		return nil, fail(check.VerifyImageHardwareID, "%q is for ECU hardware %q (image for %v); this ECU is %q", t.Name, t.HardwareID, t.Custom.Uptane.HardwareIDs, ecu.HardwareID)
	}
	// Step 4: the filename is valid for this ECU.
	if o.on(check.VerifyImageFilename) {
		if err := meta.ValidTargetName(t.Name); err != nil {
			return nil, fail(check.VerifyImageFilename, "invalid image filename").Wrap(err)
		}
		if len(ecu.Filenames) > 0 && !matchesAny(ecu.Filenames, t.Name) {
			return nil, fail(check.VerifyImageFilename, "%q matches none of this ECU's image paths %v", t.Name, ecu.Filenames)
		}
	}
	// Step 5: the release counter.
	if ecu.ReleaseCounter != nil && o.on(check.VerifyImageReleaseCounter) && t.Custom.Uptane.ReleaseCounter < *ecu.ReleaseCounter {
		return nil, fail(check.VerifyImageReleaseCounter, "%q has release counter %d, the installed image has %d", t.Name, t.Custom.Uptane.ReleaseCounter, *ecu.ReleaseCounter)
	}
	// Step 6: decryption.
	plain := image
	if enc := t.Custom.ECUIdentifiers[ecu.ID].Encrypted; enc != nil && o.on(check.VerifyImageDecrypt) {
		if ecu.Decrypt == nil {
			return nil, fail(check.VerifyImageDecrypt, "%q is encrypted for this ECU and it has no decryption key", t.Name)
		}
		if err := meta.CheckHashes(image, enc.Length, enc.Hashes); err != nil {
			return nil, fail(check.VerifyImageDecrypt, "encrypted %q does not match its metadata", t.Name).Wrap(err)
		}
		p, err := ecu.Decrypt(enc, image)
		if err != nil {
			return nil, fail(check.VerifyImageDecrypt, "cannot decrypt %q", t.Name).Wrap(err)
		}
		plain = p
	}
	// Step 7: length and every hash.
	if o.on(check.VerifyImageHashes) {
		if err := meta.CheckHashes(plain, t.Director.Length, t.Director.Hashes); err != nil {
			return nil, fail(check.VerifyImageHashes, "%q does not match the Director's metadata", t.Name).Wrap(err)
		}
	}
	return plain, nil
}

// matchesAny matches name against shell-style patterns, element by
// element as TUF path patterns are.
func matchesAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if matchPath(p, name) {
			return true
		}
	}
	return false
}

func matchPath(pattern, name string) bool {
	pp, np := splitPath(pattern), splitPath(name)
	if len(pp) != len(np) {
		return false
	}
	for i := range pp {
		if ok, _ := path.Match(pp[i], np[i]); !ok {
			return false
		}
	}
	return true
}

func splitPath(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
