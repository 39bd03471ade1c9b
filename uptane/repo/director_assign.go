package repo

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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

// vehicleStateOf opens a vehicle's metadata bucket and reads the state
// its published roles are numbered from.
func vehicleStateOf(tx *bolt.Tx, vin string) (*bolt.Bucket, vehicleState, error) {
	var st vehicleState
	vb, err := tx.Bucket(bVMeta).CreateBucketIfNotExists([]byte(vin))
	if err != nil {
		return nil, st, err
	}
	_, err = getJSON(vb, []byte("state"), &st)
	return vb, st, err
}

func (d *Director) markDirty(tx *bolt.Tx, vin string) error {
	vb, st, err := vehicleStateOf(tx, vin)
	if err != nil {
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
// image target (replacing any earlier assignment for that ECU): a bundle of
// one (AssignBundle). The image's hardware identifiers must include the
// ECU's ({#inventory_db}). With Encrypt, the image is encrypted for the
// ECU's X25519 key and served by the Director ({#director_repository},
// directing installation step 6: check director_repository.encrypt_images;
// a control profile without it assigns the image in clear).
func (d *Director) Assign(vin, ecu, target string, opts ...AssignOptions) error {
	var o AssignOptions
	for _, x := range opts {
		o.Encrypt = o.Encrypt || x.Encrypt
	}
	return d.AssignBundle(vin, []BundleItem{{ECU: ecu, Target: target, Options: o}})
}

// BundleItem is one image of a bundle: the ECU, the Image repository's
// target, and how to assign it.
type BundleItem struct {
	ECU     string
	Target  string
	Options AssignOptions
}

// AssignBundle directs ECUs of the vehicle to install images, as one
// update: either every assignment is made or none. Before it is made, the
// vehicle's resulting configuration (these images, the other assignments,
// and for ECUs without one the images the vehicle reported installed) must
// satisfy every declared dependency and conflict of its images
// ({#director_repository} step 5, director_repository.dependencies;
// docs/director-api.md, "Dependencies and conflicts").
func (d *Director) AssignBundle(vin string, bundle []BundleItem) error {
	if d.opts.Images == nil {
		return errors.New("repo: director: no Image repository configured")
	}
	type item struct {
		BundleItem
		info *metadata.TargetFiles
		c    *meta.Custom
	}
	items := make([]item, 0, len(bundle))
	seen := map[string]bool{}
	for _, bi := range bundle {
		if seen[bi.ECU] {
			return fmt.Errorf("repo: director: the bundle assigns ECU %s twice", bi.ECU)
		}
		seen[bi.ECU] = true
		if bi.Options.Encrypt && !d.opts.Profile.On(check.DirectorRepositoryEncryptImages) {
			d.log.Info("image encryption switched off by the profile: assigning in clear", "vin", vin, "ecu", bi.ECU, "target", bi.Target, "profile", d.opts.Profile.Name)
			bi.Options.Encrypt = false
		}
		info, err := d.opts.Images.Target(bi.Target)
		if err != nil {
			return fmt.Errorf("repo: director: assign %q to %s: %w", bi.Target, bi.ECU, err)
		}
		c, err := meta.GetCustom(info)
		if err != nil {
			return fmt.Errorf("repo: director: assign %q: %w", bi.Target, err)
		}
		items = append(items, item{bi, info, c})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		v, err := d.vehicle(tx, vin)
		if err != nil {
			return err
		}
		as, err := d.assignments(tx, vin)
		if err != nil {
			return err
		}
		for _, it := range items {
			ecu, target, o := it.ECU, it.Target, it.Options
			e, ok := v.ECU(ecu)
			if !ok {
				return fmt.Errorf("repo: director: vehicle %s has no ECU %q", vin, ecu)
			}
			if !it.c.Uptane.HasHardware(e.HardwareID) {
				return fmt.Errorf("repo: director: image %q is for hardware %v, ECU %s is %q", target, it.c.Uptane.HardwareIDs, ecu, e.HardwareID)
			}
			a := Assignment{ECU: ecu, Target: target, Info: it.info}
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
			as = slices.DeleteFunc(as, func(x Assignment) bool { return x.ECU == ecu })
			as = append(as, a)
		}
		slices.SortFunc(as, func(x, y Assignment) int { return strings.Compare(x.ECU, y.ECU) })
		if err := d.checkDependencies(tx, v, as, seen); err != nil {
			if d.opts.Profile.On(check.DirectorRepositoryDependencies) {
				return err
			}
			d.log.Info("dependency check switched off by the profile: assigning anyway", "vin", vin, "problem", err.Error(), "profile", d.opts.Profile.Name)
		}
		if err := putJSON(tx.Bucket(bAssign), []byte(vin), as); err != nil {
			return err
		}
		for _, it := range items {
			d.log.Info("assigned", "vin", vin, "ecu", it.ECU, "target", it.Target, "encrypted", it.Options.Encrypt)
		}
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
