package vehicle

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// RoleKeys is the keys and threshold of a repository role.
type RoleKeys struct {
	Keys      int // keys made (default: Threshold)
	Threshold int // signatures needed (default 1)
}

// Delegation is a supplier role of the Image repository
// ({#delegations_meta}).
type Delegation struct {
	Name        string
	Paths       []string // image path patterns, e.g. "brk-v2/*"
	HardwareIDs []string // hardware identifiers it is scoped to (none: any)
	Terminating bool
	RoleKeys
}

// NewBackend brings up the backend: the Image repository with release 1 of
// every ECU hardware's image, and the Director with the vehicle in its
// inventory (the ECUs' keys derived from the seed). A backend directory
// that already holds them (a wall-clock rig run again) is reopened as it
// is: its releases, assignments and metadata versions continue.
func NewBackend(o Options) (*Vehicle, error) {
	r := o.Rig
	if r.Backend.Mode != rigs.Embedded {
		return nil, fmt.Errorf("vehicle: rig %s: only the embedded backend can be brought up in-process (mode %q)", r.Name, r.Backend.Mode)
	}
	sd := SeedOf(r, o.Seed)
	v := &Vehicle{Rig: r, Clock: o.Clock, Seed: sd, Dir: o.Dir, opts: o, nonces: sd.Reader("nonces")}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("vehicle: %w", err)
	}
	exp := repo.Expiry{Root: r.Backend.Expiry.Root, Targets: r.Backend.Expiry.Targets, Delegated: r.Backend.Expiry.Targets,
		Snapshot: r.Backend.Expiry.Snapshot, Timestamp: r.Backend.Expiry.Timestamp}
	var err error
	ikc := repo.KeyConfig{Type: r.Backend.KeyTypes.Image, Rand: sd.Reader("keys/image"), Thresholds: map[string]int{}, Keys: map[string]int{}}
	for _, role := range slices.Sorted(maps.Keys(o.ImageRoles)) {
		rk := o.ImageRoles[role]
		if rk.Threshold < 0 || rk.Keys < 0 || rk.Keys > 0 && rk.Threshold > rk.Keys {
			return nil, fmt.Errorf("vehicle: image %s role: threshold %d with %d keys", role, rk.Threshold, rk.Keys)
		}
		ikc.Thresholds[role], ikc.Keys[role] = rk.Threshold, rk.Keys
	}
	v.Image, err = repo.OpenImage(repo.ImageOptions{Dir: filepath.Join(o.Dir, "backend", "image"), Clock: o.Clock,
		Keys: ikc, Expiry: exp})
	if err != nil {
		return nil, err
	}
	for _, d := range o.Delegations {
		th := max(d.Threshold, 1)
		n := max(d.Keys, th)
		rd := sd.Reader("keys/image/delegated/" + d.Name)
		var sg []keys.Signer
		for i := 0; i < n; i++ {
			k, err := keys.Generate(r.Backend.KeyTypes.Image, rd)
			if err != nil {
				return nil, err
			}
			sg = append(sg, k)
		}
		if err := v.Image.Delegate(meta.Targets, repo.Delegation{Name: d.Name, Paths: d.Paths, Terminating: d.Terminating,
			HardwareIDs: d.HardwareIDs, Signers: sg, Threshold: th}); err != nil {
			return nil, fmt.Errorf("vehicle: %w", err)
		}
	}
	v.Director, err = repo.OpenDirector(repo.DirectorOptions{Dir: filepath.Join(o.Dir, "backend", "director"), Clock: o.Clock,
		Keys: repo.KeyConfig{Type: r.Backend.KeyTypes.Director, Rand: sd.Reader("keys/director")}, Expiry: exp, Images: v.Image, Rand: sd.Reader("director/encrypt"),
		Profile: o.profile("director")})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/director/", http.StripPrefix("/director", v.Director.Handler()))
	mux.Handle("/image/", http.StripPrefix("/image", v.Image.Handler()))
	tk, err := keys.Generate(keys.Ed25519, sd.Reader("keys/time"))
	if err != nil {
		v.Close()
		return nil, err
	}
	v.Time = repo.NewTimeServer(o.Clock, tk)
	mux.Handle("/time/", http.StripPrefix("/time", v.Time.Handler()))
	v.Backend = mux
	v.Transport = repo.InProcessTransport(mux)
	if o.Transport != nil {
		v.Transport = o.Transport(v.Transport)
	}

	// Factory images, release 1, for every ECU's hardware.
	hw := map[string]int{}
	for _, e := range r.ECUs {
		hw[e.HardwareID] = max(hw[e.HardwareID], e.ImageSize)
	}
	added := false
	for _, h := range slices.Sorted(maps.Keys(hw)) {
		if _, err := v.Image.Target(ImageName(h, 1)); err == nil {
			continue // a reopened backend
		}
		if err := v.Image.AddImageTo(v.ImageRole(ImageName(h, 1), h), ImageName(h, 1), v.ImageBytes(h, 1, hw[h]), []string{h}, 1); err != nil {
			v.Close()
			return nil, err
		}
		added = true
	}
	if added {
		if err := v.Image.Publish(); err != nil {
			v.Close()
			return nil, err
		}
	}

	// aktualizr-secondaries make their own keys: start them (or reach the
	// physical ones) and ask.
	if err := v.startAktualizr(); err != nil {
		v.Close()
		return nil, err
	}

	// Keys and inventory.
	inv := []repo.ECU{}
	v.ECUKeys = map[string]*keys.Private{}
	v.encKeys = map[string]*ecdh.PrivateKey{}
	for i := range r.ECUs {
		e := &r.ECUs[i]
		k, ek, err := ECUKeys(sd, e)
		if err != nil {
			v.Close()
			return nil, err
		}
		v.ECUKeys[e.ID] = k
		item := repo.ECU{ID: e.ID, HardwareID: e.HardwareID, Key: v.InventoryKey(e), Primary: e.Role == rigs.Primary}
		if ek != nil {
			v.encKeys[e.ID] = ek
			item.EncryptionKey = ek.PublicKey().Bytes()
		}
		inv = append(inv, item)
	}
	if err := v.inventory(inv); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// inventory adds the vehicle to the Director, or checks that a reopened
// Director holds it with the same ECUs and keys.
func (v *Vehicle) inventory(inv []repo.ECU) error {
	vin := v.Rig.Vehicle.VIN
	have, err := v.Director.Vehicle(vin)
	if errors.Is(err, repo.ErrUnknownVehicle) {
		return v.Director.AddVehicle(vin, inv...)
	}
	if err != nil {
		return err
	}
	fix := fmt.Sprintf("was it made from another rig or seed? remove %s to start afresh", filepath.Join(v.Dir, "backend"))
	if len(have.ECUs) != len(inv) {
		return fmt.Errorf("vehicle: the backend in %s has vehicle %s with %d ECUs, the rig %d: %s", v.Dir, vin, len(have.ECUs), len(inv), fix)
	}
	for _, e := range inv {
		h, ok := have.ECU(e.ID)
		if !ok {
			return fmt.Errorf("vehicle: the backend in %s has no ECU %s in vehicle %s: %s", v.Dir, e.ID, vin, fix)
		}
		want, _ := keys.ID(e.Key)
		if h.KeyID != want || h.HardwareID != e.HardwareID {
			return fmt.Errorf("vehicle: the backend in %s has ECU %s with key %s (hardware %s); this seed derives key %s (hardware %s): %s",
				v.Dir, e.ID, short(h.KeyID), h.HardwareID, short(want), e.HardwareID, fix)
		}
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// InventoryKey is the signing key the Director's inventory holds for ECU e:
// a physical ECU's own (the rig's public_key), an aktualizr-secondary's
// (from its getInfoResp), else the one derived from the seed.
func (v *Vehicle) InventoryKey(e *rigs.ECU) *metadata.Key {
	if k := v.ak.keys[e.ID]; k != nil {
		return k
	}
	if e.PublicKey != nil {
		return e.PublicKey.Key()
	}
	return v.ECUKeys[e.ID].Public()
}

// ImageRole is the Image repository role that signs image name of hardware
// hwid: the first of Options.Delegations that covers both, else "targets".
func (v *Vehicle) ImageRole(name, hwid string) string {
	for _, d := range v.opts.Delegations {
		dr := metadata.DelegatedRole{Name: d.Name, Paths: d.Paths}
		if ok, _ := dr.IsDelegatedPath(name); !ok {
			continue
		}
		if len(d.HardwareIDs) == 0 || slices.Contains(d.HardwareIDs, hwid) {
			return d.Name
		}
	}
	return meta.Targets
}
