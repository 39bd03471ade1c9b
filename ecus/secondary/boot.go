package secondary

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// Provision is the factory: it gives a new ECU its trusted metadata
// ({#build_time}): the Director's Root, and the Image repository's Root for
// full verification, and beyond them the latest metadata in md — a full
// ECU the Timestamp, Snapshot and Targets of both repositories, a partial
// one the Director's Targets ("targets.json") — verified against the roots
// at the time of manufacture (verify.Provision); and its first image. An
// empty md leaves Roots only (a control profile without
// build_time.metadata).
func Provision(cfg Config, directorRoot, imageRoot []byte, md verify.FileSet, factory store.Image, data []byte) error {
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	// the time of manufacture is the first securely known time, in the
	// whole seconds the in-vehicle protocol carries (docs/pouf.md), so the
	// Primary's first time, sent in the same second, is not "before" it
	t := cfg.Clock.Now().Truncate(time.Second)
	o := verify.Options{Profile: cfg.Profile, Limits: cfg.Limits, Time: t, VIN: cfg.VIN}
	d, err := verify.NewRepo(meta.Director, directorRoot)
	if err != nil {
		return fmt.Errorf("secondary %s: provision Director root: %w", cfg.ID, err)
	}
	if len(md.Director) > 0 {
		if err := verify.Provision(o, d, verify.MapFetcher(md.Director), cfg.Verification == Partial); err != nil {
			return fmt.Errorf("secondary %s: %w", cfg.ID, err)
		}
	}
	if err := st.PutTrusted(meta.Director, d); err != nil {
		return err
	}
	if cfg.Verification == Full {
		if imageRoot == nil {
			return fmt.Errorf("secondary %s: a full-verification ECU needs the Image repository's Root", cfg.ID)
		}
		im, err := verify.NewRepo(meta.Image, imageRoot)
		if err != nil {
			return fmt.Errorf("secondary %s: provision Image root: %w", cfg.ID, err)
		}
		if len(md.Image) > 0 {
			if err := verify.Provision(o, im, verify.MapFetcher(md.Image), false); err != nil {
				return fmt.Errorf("secondary %s: %w", cfg.ID, err)
			}
		}
		if err := st.PutTrusted(meta.Image, im); err != nil {
			return err
		}
	}
	if err := st.Install(factory, data); err != nil {
		return err
	}
	n, err := newTimeNonce(cfg)
	if err != nil {
		return err
	}
	return st.Update("provision-time", func(s *store.State) error { s.LatestTime, s.TimeNonce = t, n; return nil })
}

// Boot starts the ECU from its state directory (power-on or after a reset).
func Boot(cfg Config) (*ECU, error) {
	if cfg.Verification != Full && cfg.Verification != Partial {
		return nil, fmt.Errorf("secondary %s: verification %q is not full or partial", cfg.ID, cfg.Verification)
	}
	if cfg.Key == nil {
		return nil, fmt.Errorf("secondary %s: no ECU key", cfg.ID)
	}
	if cfg.MaxImage <= 0 {
		cfg.MaxImage = DefaultMaxImage
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = DefaultMinRate
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	e := &ECU{cfg: cfg, st: st}
	if e.director, err = loadRepo(st, meta.Director); err != nil {
		return nil, fmt.Errorf("secondary %s: %w", cfg.ID, err)
	}
	if cfg.Verification == Full {
		if e.image, err = loadRepo(st, meta.Image); err != nil {
			return nil, fmt.Errorf("secondary %s: %w", cfg.ID, err)
		}
	}
	var tn []byte
	if len(st.State().TimeNonce) == 0 && cfg.Nonces != nil {
		// state from before time attestations: make the first nonce now
		if tn, err = newTimeNonce(cfg); err != nil {
			return nil, err
		}
	}
	err = st.Update("boot", func(s *store.State) error {
		s.Boots++
		if tn != nil {
			s.TimeNonce = tn
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.resetCycle()
	return e, nil
}

func loadRepo(st *store.Store, repo string) (*verify.Repo, error) {
	b, err := st.Trusted(repo)
	if err != nil {
		return nil, err
	}
	return verify.LoadRepo(b)
}

// openStore opens the ECU's state directory: with A/B slots and atomic
// writes ({#install_image}), or — a profile without
// check.InstallImageAtomic — as a single-bank ECU that programs its image
// and rewrites its state in place (store.OpenInPlace).
func openStore(cfg Config) (*store.Store, error) {
	if cfg.Profile.On(check.InstallImageAtomic) {
		return store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	}
	return store.OpenInPlace(cfg.Dir, cfg.ID, cfg.Crash)
}
