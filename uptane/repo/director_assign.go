package repo

import (
	"errors"
	"fmt"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Assignment is an image the Director directs one ECU to install.
type Assignment struct {
	ECU    string                `json:"ecu"`
	Target string                `json:"target"`
	Info   *metadata.TargetFiles `json:"info"`
	// Encrypted is set when the image is encrypted for this ECU.
	Encrypted *meta.Encrypted `json:"encrypted,omitempty"`
}

// AssignOptions are options of Assign.
type AssignOptions struct {
	// Encrypt encrypts the image for the ECU's X25519 key.
	Encrypt bool
}

func (d *Director) markDirty(tx *bolt.Tx, vin string) error {
	vb, err := tx.Bucket(bVMeta).CreateBucketIfNotExists([]byte(vin))
	if err != nil {
		return err
	}
	var st vehicleState
	if _, err := getJSON(vb, []byte("state"), &st); err != nil {
		return err
	}
	st.Dirty = true
	return putJSON(vb, []byte("state"), st)
}

func (d *Director) assignments(tx *bolt.Tx, vin string) ([]Assignment, error) {
	var as []Assignment
	_, err := getJSON(tx.Bucket(bAssign), []byte(vin), &as)
	return as, err
}

// Assign directs ECU ecu of vehicle vin to install the Image repository's
// image target (replacing any earlier assignment for that ECU). The image's
// hardware identifiers must include the ECU's ({#inventory_db}). With
// Encrypt, the image is encrypted for the ECU's X25519 key and served by
// the Director ({#director_repository}, directing installation step 6:
// check director_repository.encrypt_images; a control profile without it
// assigns the image in clear).
func (d *Director) Assign(vin, ecu, target string, opts ...AssignOptions) error {
	var o AssignOptions
	for _, x := range opts {
		o.Encrypt = o.Encrypt || x.Encrypt
	}
	if o.Encrypt && !d.opts.Profile.On(check.DirectorRepositoryEncryptImages) {
		d.log.Info("image encryption switched off by the profile: assigning in clear", "vin", vin, "ecu", ecu, "target", target, "profile", d.opts.Profile.Name)
		o.Encrypt = false
	}
	if d.opts.Images == nil {
		return errors.New("repo: director: no Image repository configured")
	}
	info, err := d.opts.Images.Target(target)
	if err != nil {
		return fmt.Errorf("repo: director: assign %q to %s: %w", target, ecu, err)
	}
	c, err := meta.GetCustom(info)
	if err != nil {
		return fmt.Errorf("repo: director: assign %q: %w", target, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		v, err := d.vehicle(tx, vin)
		if err != nil {
			return err
		}
		e, ok := v.ECU(ecu)
		if !ok {
			return fmt.Errorf("repo: director: vehicle %s has no ECU %q", vin, ecu)
		}
		if !c.Uptane.HasHardware(e.HardwareID) {
			return fmt.Errorf("repo: director: image %q is for hardware %v, ECU %s is %q", target, c.Uptane.HardwareIDs, ecu, e.HardwareID)
		}
		a := Assignment{ECU: ecu, Target: target, Info: info}
		if o.Encrypt {
			if len(e.EncryptionKey) == 0 {
				return fmt.Errorf("repo: director: ECU %s has no encryption key", ecu)
			}
			pub, err := imagecrypt.ParsePublic(e.EncryptionKey)
			if err != nil {
				return err
			}
			data, err := d.opts.Images.ImageData(target)
			if err != nil {
				return fmt.Errorf("repo: director: encrypt %q: %w", target, err)
			}
			enc, ct, err := imagecrypt.Encrypt(d.opts.Rand, pub, target+"."+ecu+".enc", data)
			if err != nil {
				return err
			}
			a.Encrypted = enc
			vb, err := tx.Bucket(bVMeta).CreateBucketIfNotExists([]byte(vin))
			if err != nil {
				return err
			}
			for _, n := range meta.ImageNames(enc.Filename, enc.Hashes) {
				if err := vb.Put([]byte("t/targets/"+n), ct); err != nil {
					return err
				}
			}
		}
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		as = slices.DeleteFunc(as, func(x Assignment) bool { return x.ECU == ecu })
		as = append(as, a)
		slices.SortFunc(as, func(x, y Assignment) int {
			if x.ECU < y.ECU {
				return -1
			}
			if x.ECU > y.ECU {
				return 1
			}
			return 0
		})
		if err := putJSON(tx.Bucket(bAssign), []byte(vin), as); err != nil {
			return err
		}
		d.log.Info("assigned", "vin", vin, "ecu", ecu, "target", target, "encrypted", o.Encrypt)
		return d.markDirty(tx, vin)
	})
}

// Unassign removes the assignment of an ECU.
func (d *Director) Unassign(vin, ecu string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		as = slices.DeleteFunc(as, func(x Assignment) bool { return x.ECU == ecu })
		if err := putJSON(tx.Bucket(bAssign), []byte(vin), as); err != nil {
			return err
		}
		return d.markDirty(tx, vin)
	})
}

// Assignments returns the current assignments of a vehicle.
func (d *Director) Assignments(vin string) ([]Assignment, error) {
	var as []Assignment
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		as, err = d.assignments(tx, vin)
		return err
	})
	return as, err
}
