package vehicle

import (
	"fmt"
	"io"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// OpenBuses opens the rig's buses: virtual ones in this process (timed
// under the simulated clock unless the rig says otherwise), SocketCAN ones
// on their interfaces (on the simulated clock, frames cross the kernel
// while simulated time stands still: see socketcan.WithClock).
func OpenBuses(r *rigs.Rig, clk clock.Clock, sd seed.Seed) (map[string]can.Bus, error) {
	names := make([]string, len(r.Buses))
	for i := range r.Buses {
		names[i] = r.Buses[i].Name
	}
	return OpenNamedBuses(r, clk, sd, names...)
}

// OpenNamedBuses opens the rig's buses with the given names (an ECU in its
// own process opens only the buses it is on).
func OpenNamedBuses(r *rigs.Rig, clk clock.Clock, sd seed.Seed, names ...string) (map[string]can.Bus, error) {
	buses := map[string]can.Bus{}
	for _, name := range names {
		b := r.Bus(name)
		if b == nil {
			CloseBuses(buses)
			return nil, fmt.Errorf("vehicle: rig %s has no bus %q", r.Name, name)
		}
		bus, err := OpenBus(r, b, clk, sd)
		if err != nil {
			CloseBuses(buses)
			return nil, err
		}
		buses[b.Name] = bus
	}
	return buses, nil
}

// OpenBus opens one bus of the rig.
func OpenBus(r *rigs.Rig, b *rigs.Bus, clk clock.Clock, sd seed.Seed) (can.Bus, error) {
	switch b.Kind {
	case rigs.Virtual:
		cfg := vbus.Config{Name: b.Name, FD: b.FD, Clock: clk, Seed: sd}
		if r.IsTimed(b) {
			cfg.Bitrate, cfg.DataBitrate = b.Bitrate, b.DataBitrate
		}
		return vbus.Open(cfg)
	case rigs.SocketCAN:
		// On the simulated clock every node must be in this process
		// (clock.External); Build refuses ECUs outside it.
		sb, err := socketcan.Open(b.Interface, socketcan.WithClock(clk))
		if err != nil {
			return nil, fmt.Errorf("vehicle: bus %s (%s): %w", b.Name, r.File, err)
		}
		if b.FD && !sb.FD() {
			sb.Close()
			return nil, fmt.Errorf("vehicle: bus %s: the rig says fd: true but %s is a classic CAN interface (MTU 16): `ip link set %s mtu 72`", b.Name, b.Interface, b.Interface)
		}
		return sb, nil
	}
	return nil, fmt.Errorf("vehicle: bus %s: unknown kind %q", b.Name, b.Kind)
}

// CloseBuses closes buses that can be closed.
func CloseBuses(buses map[string]can.Bus) {
	for _, b := range buses {
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
	}
}
