package secondary

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// Target returns the verified target of this cycle, or nil.
func (e *ECU) Target() *verify.ECUTarget { e.mu.Lock(); defer e.mu.Unlock(); return e.target }

// ImageLimit returns how many bytes the image of this cycle may have: the
// length in the verified metadata (download_image.size), or the ECU's
// maximum when the metadata has not been verified or the check is off.
func (e *ECU) ImageLimit() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target != nil && e.cfg.Profile.On(check.DownloadImageSize) {
		if enc := e.encrypted(); enc != nil {
			return enc.Length
		}
		return e.target.Director.Length
	}
	return e.cfg.MaxImage
}

func (e *ECU) encrypted() *meta.Encrypted {
	if e.target == nil || e.target.Custom == nil {
		return nil
	}
	if et, ok := e.target.Custom.ECUIdentifiers[e.cfg.ID]; ok {
		return et.Encrypted
	}
	return nil
}

// PutImage receives the image of this cycle ({#send_images_primary},
// {#download_image}).
func (e *ECU) PutImage(name string, data []byte) error {
	limit := e.ImageLimit()
	e.mu.Lock()
	defer e.mu.Unlock()
	if int64(len(data)) > limit {
		return e.record(check.Fail(check.DownloadImageSize, meta.Director, meta.Targets, "image %s is %d bytes; at most %d expected", name, len(data), limit).OnECU(e.cfg.ID))
	}
	e.imgName, e.imgData, e.plain = name, data, nil
	return nil
}

// VerifyImage is {#verify_image}. It decrypts an image encrypted for this ECU.
func (e *ECU) VerifyImage() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.imgData == nil {
		return fmt.Errorf("secondary %s: no image received this cycle", e.cfg.ID)
	}
	if e.target == nil {
		// e.g. the ECU lost power and booted again since it verified the
		// metadata: what it verified went with the RAM, and an image is
		// only installed with the target verified this cycle.
		return fmt.Errorf("secondary %s: verify image %s: %w (verify metadata first)", e.cfg.ID, e.imgName, ErrNotVerified)
	}
	st := e.st.State()
	ecu := verify.ECU{ID: e.cfg.ID, HardwareID: e.cfg.HardwareID, Filenames: e.cfg.Filenames}
	if img := st.Installed(); img != nil {
		rc := img.ReleaseCounter
		ecu.ReleaseCounter = &rc
	}
	if e.cfg.EncKey != nil {
		ecu.Decrypt = func(enc *meta.Encrypted, ct []byte) ([]byte, error) { return imagecrypt.Decrypt(e.cfg.EncKey, enc, ct) }
	}
	plain, err := verify.VerifyImage(verify.Options{Profile: e.cfg.Profile, Limits: e.cfg.Limits, Time: st.LatestTime, VIN: e.cfg.VIN}, e.latestDirector(), ecu, e.imgData)
	if err != nil {
		return e.record(err)
	}
	e.st.Crash("verify-image") // a cut before the verified image is kept
	e.plain = plain
	return nil
}

// Install is {#install_image}: the verified image goes to the inactive slot,
// then the slots switch atomically.
func (e *ECU) Install() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plain == nil {
		return fmt.Errorf("secondary %s: no verified image to install (run verify image first)", e.cfg.ID)
	}
	name, length, hashes, rc := e.imgName, int64(len(e.plain)), meta.HashesOf(e.plain), uint64(0)
	if t := e.currentTargetLocked(); t != nil {
		name = t.Name
		if e.cfg.Profile.On(check.VerifyImageHashes) {
			// the state records what the metadata says; a control ECU
			// without the hash check records whatever it was given
			length, hashes = t.Director.Length, t.Director.Hashes
		}
		if t.Custom != nil {
			rc = t.Custom.Uptane.ReleaseCounter
		}
	}
	if err := e.st.Install(store.Image{Name: name, Length: length, Hashes: hashes, ReleaseCounter: rc}, e.plain); err != nil {
		return err
	}
	e.plain, e.imgData = nil, nil
	// The image is installed: the metadata that names it becomes trusted.
	// A cut between the slot switch and this leaves the previous metadata
	// trusted with the new image active; the next cycle finds the image
	// installed and trusts the metadata then.
	if sr := e.staged; sr != nil {
		e.staged = nil
		if err := e.trust(sr.director, sr.image); err != nil {
			return err
		}
	}
	return nil
}

// currentTargetLocked is the target verified this cycle (VerifyImage
// refuses to run without one).
func (e *ECU) currentTargetLocked() *verify.ECUTarget { return e.target }
