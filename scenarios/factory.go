package scenarios

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/uptane/meta"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/events"
)

// beforeFactory plays setup.before_factory: the backend publishes and
// assigns each release to the judged ECUs before the vehicle is built,
// and after each the attacker reads the vehicle's Director metadata from
// the Director's public interface, through the proxy that records it (so
// `mitm: {action: replay, index: 0}` serves the oldest).
func (r *runner) beforeFactory() error {
	if len(r.s.Setup.BeforeFactory) == 0 {
		return nil
	}
	ecus := r.s.ECUs
	if len(ecus) == 0 {
		for _, e := range r.v.Rig.Secondaries() {
			ecus = append(ecus, e.ID)
		}
	}
	c := &http.Client{Transport: r.proxy}
	get := vehicle.HTTPGetter(c, "http://backend.invalid/director/"+r.v.Rig.Vehicle.VIN+"/")
	for _, rc := range r.s.Setup.BeforeFactory {
		if err := r.v.Publish(rc, ecus...); err != nil {
			return err
		}
		if _, err := vehicle.FactoryMetadata(get, false); err != nil {
			return err
		}
	}
	r.log.Sink()(events.Event{Time: r.sim.Now(), Kind: events.Note, Label: "factory: the ECUs are provisioned"})
	return nil
}

// replayOldMetadata: a node speaking as the Primary (a compromised Primary,
// or a device on the diagnostic port) hands the target the oldest Director
// metadata the attacker recorded — Timestamp, Snapshot and Targets for a
// full-verification ECU (with the Image repository's current metadata),
// the Targets alone for a partial one — and the image those Targets assign
// it, and asks it to verify and install: a superseded release at the
// ECU's first update, when it was recorded before the factory.
func (r *runner) replayOldMetadata(bs can.Bus, ch bus.Channel, e *rigs.ECU) error {
	base := "/director/" + r.v.Rig.Vehicle.VIN + "/"
	oldest := func(name string) ([]byte, error) {
		rec := r.proxy.Recorded(base + name)
		if len(rec) == 0 {
			return nil, fmt.Errorf("the attacker recorded no Director %s (setup.before_factory or an earlier cycle)", name)
		}
		return rec[0], nil
	}
	partial := e.Profile != rigs.Full
	old, err := vehicle.FactoryMetadata(oldest, partial)
	if err != nil {
		return err
	}
	var files []bus.File
	var targets []byte
	for _, n := range slices.Sorted(maps.Keys(old)) {
		files = append(files, bus.File{Repo: meta.Director, Name: n, Data: old[n]})
		if strings.HasSuffix(n, "targets.json") {
			targets = old[n]
		}
	}
	if !partial {
		cur, err := r.genuineMetadata(e)
		if err != nil {
			return err
		}
		for _, f := range cur {
			if f.Repo == meta.Image {
				files = append(files, f)
			}
		}
	}
	t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(targets)
	if err != nil {
		return err
	}
	var name string
	for _, n := range slices.Sorted(maps.Keys(t.Signed.Targets)) {
		if c, err := meta.GetCustom(t.Signed.Targets[n]); err == nil {
			if _, ok := c.ECUIdentifiers[e.ID]; ok {
				name = n
			}
		}
	}
	if name == "" {
		return fmt.Errorf("the oldest Director targets recorded (version %d) assign %s no image", t.Signed.Version, e.ID)
	}
	img, err := r.v.Image.ImageData(name)
	if err != nil {
		return err
	}
	r.attackEvent(e.ID, fmt.Sprintf("replays Director targets version %d (%s) over UDS", t.Signed.Version, name))
	err = bus.AsPrimary(bs, r.sim, ch, e.ID, bus.Session{Nonce: r.attackerNonce(), Time: r.sim.Now(),
		Metadata: files, Image: bus.File{Name: name, Data: img}})
	r.refused(e.ID, err)
	return nil
}
