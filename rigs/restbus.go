package rigs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

// builtinDBC are the project's DBC files (rigs/dbc/), built into the
// binary: a rig that names one by its path in the project (dbc/body.dbc)
// finds it wherever the rig file is, when no such file sits beside it.
//
//go:embed dbc/*.dbc
var builtinDBC embed.FS

// loadDBC loads a rig's DBC file: path relative to the rig file, else the
// built-in copy of the project's file of that name.
func (r *Rig) loadDBC(name string) (*dbc.Database, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(r.File), path)
	}
	db, err := dbc.Load(path)
	if err != nil && errors.Is(err, fs.ErrNotExist) && !filepath.IsAbs(name) {
		if data, berr := builtinDBC.ReadFile(filepath.ToSlash(filepath.Clean(name))); berr == nil {
			return dbc.Parse(name+" (built in)", data)
		}
	}
	return db, err
}

// Restbus is a bus's rest-bus simulation: the cyclic traffic of the
// vehicle's other ECUs, sent from a DBC file.
type Restbus struct {
	// DBC is the bus's DBC file, relative to the rig file (the project's
	// files, dbc/powertrain.dbc and dbc/body.dbc, are also built in).
	DBC string `yaml:"dbc"`
	// Nodes are the DBC nodes the harness simulates. Default: every node
	// of the file that is not an ECU of the rig (see ECU.DBCNode).
	Nodes     []string   `yaml:"nodes"`
	Counters  []Counter  `yaml:"counters"`
	Checksums []Checksum `yaml:"checksums"`
	// SleepAfter lets the network sleep when only the rest-bus has talked
	// for this long, and wake on any other node's frame (AUTOSAR network
	// management); 0 keeps it awake.
	SleepAfter time.Duration `yaml:"sleep_after"`

	db  *dbc.Database
	cfg restbus.Config
}

// Counter makes a signal a rolling (alive) counter.
type Counter struct {
	Message string `yaml:"message"`
	Signal  string `yaml:"signal"`
	Modulo  int64  `yaml:"modulo"` // default: the signal's range (16 for 4 bits)
}

// Checksum makes an 8-bit signal the checksum of its message's other bytes.
type Checksum struct {
	Message   string `yaml:"message"`
	Signal    string `yaml:"signal"`
	Algorithm string `yaml:"algorithm"` // crc8-j1850 or xor
}

// Precondition is a condition on a bus signal: its physical value at most
// Max, at least Min, or equal to Equals (a number or the text of one of its
// value descriptions, e.g. ON).
type Precondition struct {
	Signal string   `yaml:"signal"` // Message.Signal, or a signal name only one message has
	Max    *float64 `yaml:"max"`
	Min    *float64 `yaml:"min"`
	Equals string   `yaml:"equals"`
	// Timeout: the ECU takes a value older than this as stale (its sender
	// fell silent) and the precondition as unmet; default
	// restbus.DefaultTimeout (5 cycle times of the message, at least
	// 500 ms; never for a message without a cycle time).
	Timeout time.Duration `yaml:"timeout"`
	// E2E: the ECU checks the message's end-to-end protection before it
	// uses the signal (restbus.E2E, after AUTOSAR E2E): the alive counter
	// and checksum the bus's restbus counters and checksums declare for the
	// message (at least a counter). A frame that repeats the last counter,
	// or whose checksum is wrong, is discarded and the signal invalid until
	// two good frames in a row: programming is refused meanwhile.
	E2E bool `yaml:"e2e"`
}

// e2e is the end-to-end check of message m on bus: the counter and checksum
// the bus's rest-bus declares for it.
func (r *Rig) e2e(bus string, m *dbc.Message) (*restbus.E2E, error) {
	cfg, _ := r.Bus(bus).RestbusConfig()
	var counter *restbus.CounterRule
	var sum *restbus.ChecksumRule
	for i, c := range cfg.Counters {
		if c.Message == m.Name && counter == nil {
			counter = &cfg.Counters[i]
		}
	}
	for i, c := range cfg.Checksums {
		if c.Message == m.Name && sum == nil {
			sum = &cfg.Checksums[i]
		}
	}
	if counter == nil {
		return nil, fmt.Errorf("bus %s declares no alive counter of %s (restbus: counters:), which an end-to-end check reads", bus, m.Name)
	}
	return restbus.NewE2E(m, *counter, sum)
}

// Conditions returns the ECU's checked preconditions.
func (e *ECU) Conditions() []restbus.Condition { return e.conditions }

// validatePreconditions resolves each Secondary's preconditions in its bus's
// DBC.
func (r *Rig) validatePreconditions() error {
	for i := range r.ECUs {
		e := &r.ECUs[i]
		if e.PreconditionsWait != 0 && e.Role != Primary {
			return r.Errorf(fmt.Sprintf("ecus[%d].preconditions_wait", i), "only the Primary waits for a Secondary's preconditions")
		}
		if e.PreconditionsWait < 0 {
			return r.Errorf(fmt.Sprintf("ecus[%d].preconditions_wait", i), "%s is negative", e.PreconditionsWait)
		}
		if len(e.Preconditions) == 0 {
			continue
		}
		f := fmt.Sprintf("ecus[%d].preconditions", i)
		if e.Role != Secondary {
			return r.Errorf(f, "only a Secondary has programming preconditions")
		}
		db := r.Bus(e.Bus).DB()
		if db == nil {
			return r.Errorf(f, "bus %s has no DBC file (restbus: dbc:) to read the signals from", e.Bus)
		}
		e.conditions = nil
		for j, p := range e.Preconditions {
			fj := fmt.Sprintf("%s[%d]", f, j)
			m, s, err := db.FindSignal(p.Signal)
			if err != nil {
				return r.Errorf(fj+".signal", "%v", err)
			}
			c := restbus.Condition{Message: m, Signal: s, Min: p.Min, Max: p.Max, Timeout: p.Timeout}
			if p.Timeout < 0 {
				return r.Errorf(fj+".timeout", "%s is negative", p.Timeout)
			}
			if c.Timeout == 0 {
				c.Timeout = restbus.DefaultTimeout(m)
			}
			if p.Equals != "" {
				raw, err := s.ParseValue(p.Equals)
				if err != nil {
					return r.Errorf(fj+".equals", "%v", err)
				}
				c.Equals = &raw
			}
			if c.Equals == nil && c.Min == nil && c.Max == nil {
				return r.Errorf(fj, "give max, min or equals")
			}
			if p.E2E {
				if c.E2E, err = r.e2e(e.Bus, m); err != nil {
					return r.Errorf(fj+".e2e", "%v", err)
				}
			}
			e.conditions = append(e.conditions, c)
		}
	}
	return nil
}

// DB returns the bus's loaded DBC database, nil without a rest-bus.
func (b *Bus) DB() *dbc.Database {
	if b.Restbus == nil {
		return nil
	}
	return b.Restbus.db
}

// RestbusConfig returns the checked rest-bus configuration of the bus.
func (b *Bus) RestbusConfig() (restbus.Config, bool) {
	if b.Restbus == nil {
		return restbus.Config{}, false
	}
	return b.Restbus.cfg, true
}

// DBCNodeName returns the DBC node an ECU is on its buses' DBC files: its
// dbc_node, or its identifier up to the first '-' (ECM-0001 is ECM).
func (e *ECU) DBCNodeName() string {
	if e.DBCNode != "" {
		return e.DBCNode
	}
	n, _, _ := strings.Cut(e.ID, "-")
	return n
}

// validateRestbus loads each bus's DBC and checks its rest-bus against the
// rig: nodes, rules, and the ISO-TP identifiers of the bus's ECUs.
func (r *Rig) validateRestbus() error {
	for i := range r.Buses {
		b := &r.Buses[i]
		rb := b.Restbus
		if rb == nil {
			continue
		}
		f := fmt.Sprintf("buses[%d].restbus", i)
		if rb.DBC == "" {
			return r.Errorf(f+".dbc", "missing: the bus's DBC file")
		}
		db, err := r.loadDBC(rb.DBC)
		if err != nil {
			return r.Errorf(f+".dbc", "%v", err)
		}
		rb.db = db
		var reserved []restbus.Reserved
		rigNodes := map[string]string{}
		for _, e := range r.ECUs {
			on := e.Bus == b.Name
			for _, x := range e.Buses {
				on = on || x == b.Name
			}
			if !on {
				continue
			}
			rigNodes[e.DBCNodeName()] = e.ID
			if e.Role == Secondary {
				reserved = append(reserved,
					restbus.Reserved{ID: e.ISOTP.Request, Extended: e.ISOTP.Extended, What: "ISO-TP request identifier of " + e.ID},
					restbus.Reserved{ID: e.ISOTP.Response, Extended: e.ISOTP.Extended, What: "ISO-TP response identifier of " + e.ID})
			}
		}
		nodes := rb.Nodes
		if len(nodes) == 0 {
			for _, n := range db.Nodes {
				if _, isECU := rigNodes[n]; !isECU {
					nodes = append(nodes, n)
				}
			}
		}
		for j, n := range rb.Nodes {
			if id, isECU := rigNodes[n]; isECU {
				return r.Errorf(fmt.Sprintf("%s.nodes[%d]", f, j), "%s is ECU %s of the rig, which sends its own traffic", n, id)
			}
		}
		cfg := restbus.Config{DB: db, Nodes: nodes, Reserved: reserved, FD: b.FD, SleepAfter: rb.SleepAfter}
		for _, c := range rb.Counters {
			cfg.Counters = append(cfg.Counters, restbus.CounterRule{Message: c.Message, Signal: c.Signal, Modulo: c.Modulo})
		}
		for _, c := range rb.Checksums {
			cfg.Checksums = append(cfg.Checksums, restbus.ChecksumRule{Message: c.Message, Signal: c.Signal, Algorithm: restbus.Algorithm(c.Algorithm)})
		}
		if _, err := restbus.New(cfg); err != nil {
			return r.Errorf(f, "%v", err)
		}
		rb.cfg = cfg
	}
	return r.validatePreconditions()
}
