package scenarios

import (
	"net/http"

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
