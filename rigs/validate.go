package rigs

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

var (
	idRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
)

func oneOf(v string, opts ...string) bool {
	for _, o := range opts {
		if v == o {
			return true
		}
	}
	return false
}

func (r *Rig) validate() error {
	if r.Name == "" {
		return r.Errorf("name", "missing: give the rig a name")
	}
	if r.Clock == "" {
		r.Clock = Simulated
		for _, b := range r.Buses {
			if b.Kind == SocketCAN {
				r.Clock = WallClock
			}
		}
	}
	if !oneOf(r.Clock, Simulated, WallClock) {
		return r.Errorf("clock", "%q is not one of simulated, wall", r.Clock)
	}
	if len(r.Buses) == 0 {
		return r.Errorf("buses", "a rig needs at least one bus")
	}
	busNames := map[string]bool{}
	for i := range r.Buses {
		b := &r.Buses[i]
		f := fmt.Sprintf("buses[%d]", i)
		if !nameRe.MatchString(b.Name) {
			return r.Errorf(f+".name", "%q: use 1-32 lower-case letters, digits, - or _", b.Name)
		}
		if busNames[b.Name] {
			return r.Errorf(f+".name", "bus %q is defined twice", b.Name)
		}
		busNames[b.Name] = true
		if b.Kind == "" {
			b.Kind = Virtual
		}
		switch b.Kind {
		case Virtual:
			if b.Interface != "" {
				return r.Errorf(f+".interface", "only socketcan buses have an interface")
			}
		case SocketCAN:
			if b.Interface == "" {
				return r.Errorf(f+".interface", "missing: a socketcan bus needs an interface (vcan0, can0, ...)")
			}
			if r.Clock == Simulated {
				return r.Errorf("clock", "a rig with socketcan buses runs on wall-clock time: set clock: wall")
			}
		default:
			return r.Errorf(f+".kind", "%q is not one of virtual, socketcan", b.Kind)
		}
		if b.Bitrate == 0 {
			b.Bitrate = 500_000
		}
		if b.Bitrate < 10_000 || b.Bitrate > 1_000_000 {
			return r.Errorf(f+".bitrate", "%d bit/s is outside 10 kbit/s..1 Mbit/s", b.Bitrate)
		}
		if b.FD {
			if b.DataBitrate == 0 {
				b.DataBitrate = 2_000_000
			}
			if b.DataBitrate < b.Bitrate || b.DataBitrate > 12_000_000 {
				return r.Errorf(f+".data_bitrate", "%d bit/s must be between the nominal bit rate and 12 Mbit/s", b.DataBitrate)
			}
		} else if b.DataBitrate != 0 {
			return r.Errorf(f+".data_bitrate", "only CAN FD buses (fd: true) have a data bit rate")
		}
	}
	for i := range r.Buses {
		if err := r.validateFaults(fmt.Sprintf("buses[%d]", i), &r.Buses[i]); err != nil {
			return err
		}
	}
	if r.Backend.Mode == "" {
		r.Backend.Mode = Embedded
	}
	switch r.Backend.Mode {
	case Embedded:
		if r.Backend.DirectorURL != "" || r.Backend.ImageURL != "" {
			return r.Errorf("backend.director_url", "an embedded backend has no URLs; set mode: remote to use running repositories")
		}
	case Remote:
		if r.Backend.DirectorURL == "" {
			return r.Errorf("backend.director_url", "missing: a remote backend needs director_url")
		}
		if r.Backend.ImageURL == "" {
			return r.Errorf("backend.image_url", "missing: a remote backend needs image_url")
		}
	default:
		return r.Errorf("backend.mode", "%q is not one of embedded, remote", r.Backend.Mode)
	}
	for _, kt := range []struct{ f, v string }{{"director", r.Backend.KeyTypes.Director}, {"image", r.Backend.KeyTypes.Image}} {
		if !keys.ValidType(kt.v) {
			return r.Errorf("backend.key_types."+kt.f, "%q is not one of %s", kt.v, strings.Join(keys.Types(), ", "))
		}
		if kt.v != "" && r.Backend.Mode == Remote {
			return r.Errorf("backend.key_types."+kt.f, "a remote backend makes its own keys; key_types is for the embedded one")
		}
	}
	e := &r.Backend.Expiry
	for _, x := range []struct {
		f   string
		v   *time.Duration
		def time.Duration
	}{{"root", &e.Root, 365 * 24 * time.Hour}, {"targets", &e.Targets, 90 * 24 * time.Hour},
		{"snapshot", &e.Snapshot, 7 * 24 * time.Hour}, {"timestamp", &e.Timestamp, 24 * time.Hour}} {
		if *x.v == 0 {
			*x.v = x.def
		}
		if *x.v < time.Minute {
			return r.Errorf("backend.expiry."+x.f, "%s is shorter than a minute", *x.v)
		}
	}
	if r.Vehicle.VIN == "" {
		return r.Errorf("vehicle.vin", "missing: the vehicle needs a VIN")
	}
	if !idRe.MatchString(r.Vehicle.VIN) {
		return r.Errorf("vehicle.vin", "%q: use 1-32 letters, digits, . _ -", r.Vehicle.VIN)
	}
	if err := r.validateECUs(busNames); err != nil {
		return err
	}
	return r.validateRestbus()
}
