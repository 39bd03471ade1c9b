package akdialect

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ImageRepo is what the dialect needs of an Image repository (*repo.Image
// is one).
type ImageRepo interface {
	File(name string) ([]byte, bool)
	Signers(role string) []keys.Signer
	Version(role string) int64
}

// DirectorRepo is what the dialect needs of a Director (*repo.Director is
// one).
type DirectorRepo interface {
	File(vin, name string) ([]byte, error)
	Signers(role string) []keys.Signer
	Version(vin, role string) (int64, error)
}

// FromImage re-signs an Image repository's current metadata in the dialect.
// Delegated targets are not merged in (ImageSet can, given the files).
func FromImage(im ImageRepo) (*Set, error) {
	get := func(name string) ([]byte, error) {
		b, ok := im.File(name)
		if !ok {
			return nil, fmt.Errorf("%w: image repository %s", ErrNoFile, name)
		}
		return b, nil
	}
	root, err := get(meta.UnversionedName(meta.Root))
	if err != nil {
		return nil, err
	}
	ts, err := get(meta.UnversionedName(meta.Timestamp))
	if err != nil {
		return nil, err
	}
	sn, err := get(meta.VersionedName(im.Version(meta.Snapshot), meta.Snapshot))
	if err != nil {
		return nil, err
	}
	tg, err := get(meta.VersionedName(im.Version(meta.Targets), meta.Targets))
	if err != nil {
		return nil, err
	}
	return ImageSet(root, ts, sn, tg, nil, im.Signers)
}

// FromDirector re-signs the Director's Root and vehicle vin's current
// Targets in the dialect (asking for the Timestamp first, so that the
// Director signs what is pending).
func FromDirector(d DirectorRepo, vin string) (*Set, error) {
	if _, err := d.File(vin, meta.UnversionedName(meta.Timestamp)); err != nil {
		return nil, err
	}
	root, err := d.File(vin, meta.UnversionedName(meta.Root))
	if err != nil {
		return nil, err
	}
	v, err := d.Version(vin, meta.Targets)
	if err != nil {
		return nil, err
	}
	tg, err := d.File(vin, meta.VersionedName(v, meta.Targets))
	if err != nil {
		return nil, err
	}
	return DirectorSet(root, tg, d.Signers)
}
