package vehicle

import (
	"bytes"
	"fmt"

	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// Publish makes the Image repository publish release rc of the images of
// the given ECUs (all the rig's Secondaries when none) and the Director
// assign them (encrypted for ECUs whose rig entry says so).
func (v *Vehicle) Publish(rc uint64, ecus ...string) error {
	if len(ecus) == 0 {
		for _, e := range v.Rig.Secondaries() {
			ecus = append(ecus, e.ID)
		}
	}
	done := map[string]bool{}
	for _, id := range ecus {
		e := v.Rig.ECU(id)
		if e == nil {
			return fmt.Errorf("vehicle: no ECU %q in rig %s", id, v.Rig.Name)
		}
		name := ImageName(e.HardwareID, rc)
		if !done[e.HardwareID] {
			if _, err := v.Image.Target(name); err != nil {
				role := v.ImageRole(name, e.HardwareID)
				if err := v.Image.AddImageTo(role, name, v.ImageBytes(e.HardwareID, rc, e.ImageSize), []string{e.HardwareID}, rc); err != nil {
					return err
				}
				if f := v.opts.Compatibility; f != nil {
					if c := f(e.HardwareID, rc); c != nil {
						if err := v.Image.SetCompatibility(role, name, c); err != nil {
							return err
						}
					}
				}
			}
			done[e.HardwareID] = true
		}
	}
	if err := v.Image.Publish(); err != nil {
		return err
	}
	// one bundle: the Director checks the images' dependencies and
	// conflicts against the vehicle as a whole (director_repository.dependencies)
	var bundle []repo.BundleItem
	for _, id := range ecus {
		e := v.Rig.ECU(id)
		bundle = append(bundle, repo.BundleItem{ECU: id, Target: ImageName(e.HardwareID, rc), Options: repo.AssignOptions{Encrypt: e.Encrypted}})
	}
	return v.Director.AssignBundle(v.Rig.Vehicle.VIN, bundle)
}

// SetCompatibility replaces Options.Compatibility for the campaigns to come
// (a run that plans its releases after bring-up).
func (v *Vehicle) SetCompatibility(f func(hwid string, rc uint64) *meta.Compatibility) {
	v.opts.Compatibility = f
}

// Cycle runs one update cycle of the Primary.
func (v *Vehicle) Cycle() *primary.CycleReport { return v.Primary.UpdateCycle() }

// Campaign publishes and assigns release rc to the ECUs and runs one cycle.
func (v *Vehicle) Campaign(rc uint64, ecus ...string) (*primary.CycleReport, error) {
	if err := v.Publish(rc, ecus...); err != nil {
		return nil, err
	}
	return v.Cycle(), nil
}

// Installed is the image an ECU has in its active slot.
type Installed struct {
	Release uint64 // release counter of the image's metadata
	Name    string // image file name
	// Genuine is true when the slot holds exactly the genuine bytes of that
	// release (false: an attacker's image under that name).
	Genuine bool
	// Empty: the ECU has installed no image yet (an aktualizr-secondary
	// leaves the factory without one).
	Empty bool
}

// Installed returns the image an in-process ECU has in its active slot.
func (v *Vehicle) Installed(id string) (Installed, error) {
	if pe := v.Rig.Primary(); pe != nil && pe.ID == id && v.Primary != nil {
		img, data, err := v.Primary.ActiveImage()
		if err != nil {
			return Installed{}, err
		}
		want := v.ImageBytes(pe.HardwareID, img.ReleaseCounter, len(data))
		return Installed{Release: img.ReleaseCounter, Name: img.Name, Genuine: bytes.Equal(want, data)}, nil
	}
	s := v.Secondary(id)
	if s == nil {
		return Installed{}, fmt.Errorf("vehicle: no Secondary %q", id)
	}
	if realAktualizr(s.Rig) {
		return v.installedAktualizr(s)
	}
	e := s.Current()
	if e == nil {
		return Installed{}, fmt.Errorf("vehicle: %s does not run in this process, or has no power", id)
	}
	img, data, err := e.ActiveImage()
	if err != nil {
		return Installed{}, err
	}
	want := v.ImageBytes(s.Rig.HardwareID, img.ReleaseCounter, len(data))
	return Installed{Release: img.ReleaseCounter, Name: img.Name, Genuine: bytes.Equal(want, data)}, nil
}
