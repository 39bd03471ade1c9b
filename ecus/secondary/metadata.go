package secondary

import (
	"fmt"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// stagedRepos is verified metadata waiting for its image.
type stagedRepos struct{ director, image *verify.Repo }

// trust makes verified metadata the ECU's trusted metadata, on disk first
// (Director, then Image).
func (e *ECU) trust(d, im *verify.Repo) error {
	if err := e.st.PutTrusted(meta.Director, d); err != nil {
		return err
	}
	if im != nil {
		if err := e.st.PutTrusted(meta.Image, im); err != nil {
			return err
		}
	}
	e.director, e.image = d, im
	if im == nil {
		e.image = nil
	}
	return nil
}

// latestDirector is the Director metadata verified this cycle (staged with
// its image), else the trusted one.
func (e *ECU) latestDirector() *verify.Repo {
	if e.staged != nil {
		return e.staged.director
	}
	return e.director
}

func (e *ECU) resetCycle() {
	e.staged = nil
	e.incoming = verify.FileSet{Director: map[string][]byte{}, Image: map[string][]byte{}}
	e.inBytes = 0
	e.target, e.imgName, e.imgData, e.plain = nil, "", nil, nil
}

// SetNonce starts an update cycle: it takes the Primary's fresh nonce and
// forgets the attacks already reported under the previous one.
func (e *ECU) SetNonce(n []byte) error {
	if len(n) == 0 || len(n) > manifest.MaxNonce {
		return fmt.Errorf("secondary %s: nonce of %d bytes (want 1..%d)", e.cfg.ID, len(n), manifest.MaxNonce)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resetCycle()
	e.lastErr = nil
	return e.st.Update("nonce", func(s *store.State) error {
		s.Nonce = append([]byte(nil), n...)
		kept := s.Attacks[:0]
		for _, a := range s.Attacks {
			if !a.Reported {
				kept = append(kept, a)
			}
		}
		s.Attacks = kept
		return nil
	})
}

// PutMetadata receives one metadata file for repo ("director" or "image")
// ({#send_metadata_primary}).
func (e *ECU) PutMetadata(repo, name string, data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var m map[string][]byte
	switch repo {
	case meta.Director:
		m = e.incoming.Director
	case meta.Image:
		if e.cfg.Verification == Partial {
			return fmt.Errorf("secondary %s: a partial-verification ECU takes no Image repository metadata", e.cfg.ID)
		}
		m = e.incoming.Image
	default:
		return fmt.Errorf("secondary %s: unknown repository %q", e.cfg.ID, repo)
	}
	if len(data) > MaxMetadataFile {
		return e.record(check.Fail(check.PoufTransferSize, repo, "", "metadata file %s is %d bytes (limit %d)", name, len(data), MaxMetadataFile).OnECU(e.cfg.ID))
	}
	if _, dup := m[name]; !dup && len(e.incoming.Director)+len(e.incoming.Image) >= MaxMetadataFiles {
		return e.record(check.Fail(check.PoufTransferSize, repo, "", "more than %d metadata files in one cycle", MaxMetadataFiles).OnECU(e.cfg.ID))
	}
	if e.inBytes+len(data) > MaxMetadataInCycle {
		return e.record(check.Fail(check.PoufTransferSize, repo, "", "more than %d bytes of metadata in one cycle", MaxMetadataInCycle).OnECU(e.cfg.ID))
	}
	e.inBytes += len(data)
	m[name] = append([]byte(nil), data...)
	return nil
}

// VerifyMetadata is {#verify_metadata}: full or partial verification of the
// metadata received this cycle against the trusted state. It returns the
// verified target for this ECU, or nil when there is nothing new for it.
func (e *ECU) VerifyMetadata() (*verify.ECUTarget, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.State()
	o := verify.Options{Profile: e.cfg.Profile, Limits: e.cfg.Limits, Time: st.LatestTime, VIN: e.cfg.VIN}
	e.staged = nil
	var t *verify.ECUTarget
	var verified *stagedRepos
	if e.cfg.Verification == Full {
		scope := verify.Scope{ECUs: []string{e.cfg.ID}, Installed: map[string]*metadata.TargetFiles{}}
		if img := st.Installed(); img != nil {
			scope.Installed[e.cfg.ID] = &metadata.TargetFiles{Path: img.Name, Length: img.Length, Hashes: img.Hashes}
		}
		d, im := e.director.Clone(), e.image.Clone()
		res, err := verify.FullVerification(o, scope, d, im, verify.MapFetcher(e.incoming.Director), verify.MapFetcher(e.incoming.Image))
		if err != nil {
			return nil, e.record(err)
		}
		t = res.Targets[e.cfg.ID]
		if t == nil && res.Stopped == verify.NoNewUpdates {
			// no new metadata: resume an update verified earlier and not
			// installed (trusted before download_image.previous_targets)
			t = verify.Pending(o, scope, d)[e.cfg.ID]
		}
		verified = &stagedRepos{director: d, image: im}
	} else {
		d := e.director.Clone()
		_, hasRoot := e.incoming.Director[meta.VersionedName(e.director.Root().Signed.Version+1, meta.Root)]
		var err error
		t, err = verify.PartialVerification(o, d, verify.MapFetcher(e.incoming.Director), e.cfg.ID, hasRoot)
		if err != nil {
			return nil, e.record(err)
		}
		verified = &stagedRepos{director: d}
	}
	if t != nil {
		if img := st.Installed(); img != nil && img.Name == t.Name && sameHashes(img.Hashes, t.Director.Hashes) {
			t = nil // already installed
		}
	}
	if t != nil && e.cfg.Profile.On(check.DownloadImagePreviousTargets) {
		// {#download_image} step 4: the new metadata names a new image;
		// it is trusted only once that image is installed.
		e.staged = verified
	} else if err := e.trust(verified.director, verified.image); err != nil {
		return nil, err
	}
	e.target = t
	return t, nil
}

func sameHashes(a, b metadata.Hashes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}
