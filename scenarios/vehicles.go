package scenarios

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// OtherVehicle is what `with: other-vehicle` substitutes: the Director
// metadata of a second vehicle of the same fleet, which the attacker owns
// (or reads from the Director's public interface). Every vehicle shares the
// Director's keys, so that metadata carries valid signatures.
const OtherVehicle = "other-vehicle"

// otherVehicleUpdates is how many metadata versions the other vehicle's
// Director metadata is ahead of a fresh vehicle's: replayed to this
// vehicle, it would raise the versions it trusts, and the vehicle's own
// metadata would then look like a rollback (a denial of updates).
const otherVehicleUpdates = 5

// otherVehicle adds a second vehicle to the Director (the same ECUs under
// other identifiers and keys, no images assigned), lets its metadata move
// on otherVehicleUpdates versions, and serves its timestamp, snapshot and
// targets on this vehicle's Director paths (only the files whose names
// match file).
func (r *runner) otherVehicle(name string, file *regexp.Regexp) (func(), error) {
	vin := r.v.Rig.Vehicle.VIN
	other := vin + "-2"
	if _, err := r.v.Director.Vehicle(other); err != nil {
		var inv []repo.ECU
		rnd := r.v.Seed.Reader("attacker/other-vehicle")
		for _, e := range r.v.Rig.ECUs {
			k, err := keys.Generate(keys.Ed25519, rnd)
			if err != nil {
				return nil, err
			}
			inv = append(inv, repo.ECU{ID: e.ID + "-2", HardwareID: e.HardwareID, Key: k.Public(), Primary: e.Role == rigs.Primary})
		}
		if err := r.v.Director.AddVehicle(other, inv...); err != nil {
			return nil, fmt.Errorf("the attacker's other vehicle: %w", err)
		}
		for i := 0; i < otherVehicleUpdates; i++ {
			// each change of its (empty) assignments signs new metadata
			if err := r.v.Director.Unassign(other, inv[0].ID); err != nil {
				return nil, err
			}
			if err := r.v.Director.Refresh(other); err != nil {
				return nil, err
			}
		}
	}
	// ahead of this vehicle's versions as they are now, with room for its
	// next update: a backend that persists across scenarios (a DUT run's)
	// has moved this vehicle on past the other's
	ahead := repo.Versions{}
	for _, role := range []string{meta.Targets, meta.Snapshot, meta.Timestamp} {
		ours, err := r.v.Director.Version(vin, role)
		if err != nil {
			return nil, err
		}
		theirs, err := r.v.Director.Version(other, role)
		if err != nil {
			return nil, err
		}
		if theirs <= ours+1 {
			ahead[role] = ours + otherVehicleUpdates - 1
		}
	}
	if _, err := r.v.Director.Above(other, ahead); err != nil {
		return nil, fmt.Errorf("the attacker's other vehicle: %w", err)
	}
	files := map[string][]byte{}
	ts, err := r.v.Director.File(other, meta.UnversionedName(meta.Timestamp))
	if err != nil {
		return nil, err
	}
	files[meta.UnversionedName(meta.Timestamp)] = ts
	for _, role := range []string{meta.Snapshot, meta.Targets} {
		n, err := r.v.Director.Version(other, role)
		if err != nil {
			return nil, err
		}
		if files[meta.VersionedName(n, role)], err = r.v.Director.File(other, meta.VersionedName(n, role)); err != nil {
			return nil, err
		}
	}
	var offs []func()
	for _, n := range slices.Sorted(maps.Keys(files)) {
		if !file.MatchString(n) {
			continue
		}
		path := "/director/" + vin + "/" + n
		rule := &mitm.Rule{Name: name, Path: regexp.MustCompile("^" + regexp.QuoteMeta(path) + "$"), Action: mitm.Substitute{Body: files[n]}}
		r.rules = append(r.rules, rule)
		offs = append(offs, r.proxy.Add(rule))
	}
	if len(offs) == 0 {
		return nil, fmt.Errorf("no Director file of the other vehicle matches %q", file)
	}
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker,
		Label: fmt.Sprintf("attacker serves vehicle %s's Director metadata (%d files)", other, len(offs))})
	return func() {
		for _, off := range offs {
			off()
		}
	}, nil
}
