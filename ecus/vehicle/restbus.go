package vehicle

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

// startRestbus starts the rest-bus of every bus whose rig entry has one:
// the cyclic traffic of the vehicle's other ECUs, from the bus's DBC file.
func (v *Vehicle) startRestbus() error {
	for i := range v.Rig.Buses {
		b := &v.Rig.Buses[i]
		cfg, ok := b.RestbusConfig()
		if !ok {
			continue
		}
		bus := v.Buses[b.Name]
		if bus == nil {
			return fmt.Errorf("vehicle: rest-bus of %s: the bus is not open", b.Name)
		}
		rb, err := restbus.New(cfg)
		if err != nil {
			return fmt.Errorf("vehicle: rest-bus of %s: %w", b.Name, err)
		}
		if err := rb.Start(v.opts.Clock, bus); err != nil {
			return fmt.Errorf("vehicle: rest-bus of %s: %w", b.Name, err)
		}
		if v.Restbus == nil {
			v.Restbus = map[string]*restbus.Restbus{}
		}
		v.Restbus[b.Name] = rb
	}
	return nil
}

// stopRestbus stops every rest-bus.
func (v *Vehicle) stopRestbus() {
	for _, rb := range v.Restbus {
		rb.Stop()
	}
}
