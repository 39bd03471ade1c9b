package repo

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	bolt "go.etcd.io/bbolt"

	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// ECU is an ECU in the inventory database ({#inventory_db}).
type ECU struct {
	ID         string        `json:"id"`
	HardwareID string        `json:"hardwareId"`
	Key        *metadata.Key `json:"key"`   // ECU signing key (public part only)
	KeyID      string        `json:"keyid"` // TUF key ID of Key (filled in by the Director)
	// EncryptionKey is the ECU's X25519 public key (32 bytes), optional.
	EncryptionKey metadata.HexBytes `json:"encryptionKey,omitempty"`
	Primary       bool              `json:"primary"`
}

// Vehicle is a vehicle in the inventory database.
type Vehicle struct {
	VIN  string `json:"vin"`
	ECUs []ECU  `json:"ecus"`
}

// Primary returns the vehicle's Primary ECU.
func (v *Vehicle) Primary() (*ECU, bool) {
	for i := range v.ECUs {
		if v.ECUs[i].Primary {
			return &v.ECUs[i], true
		}
	}
	return nil, false
}

// ECU returns the ECU with identifier id.
func (v *Vehicle) ECU(id string) (*ECU, bool) {
	for i := range v.ECUs {
		if v.ECUs[i].ID == id {
			return &v.ECUs[i], true
		}
	}
	return nil, false
}

var ecuIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var vinPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ErrUnknownVehicle: the VIN is not in the inventory.
var ErrUnknownVehicle = errors.New("repo: director: unknown vehicle")

func (d *Director) vehicle(tx *bolt.Tx, vin string) (*Vehicle, error) {
	var v Vehicle
	ok, err := getJSON(tx.Bucket(bVehicles), []byte(vin), &v)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownVehicle, vin)
	}
	return &v, nil
}

// AddVehicle records a vehicle and its ECUs. Exactly one ECU must be the
// Primary; ECU identifiers are unique across the inventory.
func (d *Director) AddVehicle(vin string, ecus ...ECU) error {
	if !vinPattern.MatchString(vin) {
		return fmt.Errorf("repo: director: bad VIN %q (letters, digits, _ and -, up to 64)", vin)
	}
	prim := 0
	v := Vehicle{VIN: vin}
	seen := map[string]bool{}
	for _, e := range ecus {
		if !ecuIDPattern.MatchString(e.ID) {
			return fmt.Errorf("repo: director: vehicle %s: bad ECU identifier %q", vin, e.ID)
		}
		if seen[e.ID] {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s listed twice", vin, e.ID)
		}
		seen[e.ID] = true
		if e.Key == nil {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s has no key", vin, e.ID)
		}
		id, err := keys.ID(e.Key)
		if err != nil {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s: %w", vin, e.ID, err)
		}
		if _, err := manifest.Method(e.Key); err != nil {
			return fmt.Errorf("repo: director: vehicle %s: ECU %s: %w", vin, e.ID, err)
		}
		e.KeyID = id
		if len(e.EncryptionKey) > 0 {
			if _, err := imagecrypt.ParsePublic(e.EncryptionKey); err != nil {
				return fmt.Errorf("repo: director: vehicle %s: ECU %s: %w", vin, e.ID, err)
			}
		}
		if e.Primary {
			prim++
		}
		v.ECUs = append(v.ECUs, e)
	}
	if prim != 1 {
		return fmt.Errorf("repo: director: vehicle %s: %d Primary ECUs, want exactly 1", vin, prim)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bVehicles).Get([]byte(vin)) != nil {
			return fmt.Errorf("repo: director: vehicle %s already exists", vin)
		}
		for _, e := range v.ECUs {
			if other := tx.Bucket(bECUs).Get([]byte(e.ID)); other != nil {
				return fmt.Errorf("repo: director: ECU %s already belongs to vehicle %s", e.ID, other)
			}
			if err := tx.Bucket(bECUs).Put([]byte(e.ID), []byte(vin)); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bVehicles), []byte(vin), v); err != nil {
			return err
		}
		d.log.Info("vehicle added", "vin", vin, "ecus", len(v.ECUs))
		return d.markDirty(tx, vin)
	})
}

// Vehicle returns a vehicle of the inventory.
func (d *Director) Vehicle(vin string) (*Vehicle, error) {
	var v *Vehicle
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = d.vehicle(tx, vin)
		return err
	})
	return v, err
}
