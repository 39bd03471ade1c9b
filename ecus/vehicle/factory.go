package vehicle

import (
	"crypto/ecdh"
	"fmt"
	"io"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ImageName is the target name of release rc of an ECU hardware's image.
func ImageName(hwid string, rc uint64) string { return fmt.Sprintf("%s/firmware-r%d.bin", hwid, rc) }

// ImageBytes is the deterministic content of release rc for hardware hwid
// under seed sd: the backend, an ECU's factory and a test derive the same
// bytes.
func ImageBytes(sd seed.Seed, hwid string, rc uint64, size int) []byte {
	b := make([]byte, size)
	io.ReadFull(sd.Reader(fmt.Sprintf("image/%s/%d", hwid, rc)), b)
	copy(b, fmt.Sprintf("%s release %d\n", hwid, rc))
	return b
}

// ImageBytes is the deterministic content of release rc for hardware hwid.
func (v *Vehicle) ImageBytes(hwid string, rc uint64, size int) []byte {
	return ImageBytes(v.Seed, hwid, rc, size)
}

// SeedOf is the seed of a run: s, or the rig's seed when s is zero.
func SeedOf(r *rigs.Rig, s seed.Seed) seed.Seed {
	if s == 0 {
		return seed.Seed(r.Seed)
	}
	return s
}

// ECUKeys derives an ECU's signing key and, for an ECU whose images are
// encrypted, its X25519 image key from the seed. Every bring-up (the whole
// vehicle here, one ECU in its own process, the backend alone) derives
// them alike, so the Director's inventory matches the ECUs.
func ECUKeys(sd seed.Seed, e *rigs.ECU) (*keys.Private, *ecdh.PrivateKey, error) {
	k, err := keys.Generate(e.KeyType, sd.Reader("keys/ecu/"+e.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: key of %s: %w", e.ID, err)
	}
	if !e.Encrypted {
		return k, nil, nil
	}
	ek, err := imagecrypt.GenerateKey(sd.Reader("keys/ecu-enc/" + e.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: encryption key of %s: %w", e.ID, err)
	}
	return k, ek, nil
}

// Factory is an ECU's factory image: release 1 of its hardware's image.
func Factory(sd seed.Seed, e *rigs.ECU) (store.Image, []byte) {
	img := ImageBytes(sd, e.HardwareID, 1, e.ImageSize)
	return factory(e.HardwareID, 1, img), img
}

// imageRootFor is the Image repository's Root a Secondary is provisioned
// with: full-verification ECUs only.
func imageRootFor(v *Vehicle, e *rigs.ECU) []byte {
	if e.Profile == rigs.Full {
		return v.Image.Root()
	}
	return nil
}

func factory(hwid string, rc uint64, img []byte) store.Image {
	return store.Image{Name: ImageName(hwid, rc), Length: int64(len(img)), Hashes: meta.HashesOf(img), ReleaseCounter: rc}
}
