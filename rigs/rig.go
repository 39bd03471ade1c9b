// Package rigs loads rig files (rigs/*.yaml): which buses exist (virtual or
// SocketCAN), which ECUs sit on them and how they are reached, and where the
// Director and Image repositories are. A rig is the one switch between the
// embedded virtual vehicle, vcan, and a bench with real ECUs on a USB-CAN
// adapter: the code path after loading is the same.
package rigs

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/yamlx"
)

// Rig is a parsed rig file.
type Rig struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	Seed        uint64  `yaml:"seed"`
	Clock       string  `yaml:"clock"` // "simulated" or "wall"
	Buses       []Bus   `yaml:"buses"`
	Backend     Backend `yaml:"backend"`
	Vehicle     Vehicle `yaml:"vehicle"`
	ECUs        []ECU   `yaml:"ecus"`

	// File is the path the rig was loaded from.
	File string `yaml:"-"`
	doc  *yamlx.Doc
}

// Bus is one CAN segment.
type Bus struct {
	Name        string `yaml:"name"`
	Kind        string `yaml:"kind"`         // "virtual" or "socketcan"
	Interface   string `yaml:"interface"`    // socketcan: vcan0, can0, ...
	Bitrate     int    `yaml:"bitrate"`      // nominal bit rate, bit/s
	DataBitrate int    `yaml:"data_bitrate"` // CAN FD data phase bit rate, bit/s
	FD          bool   `yaml:"fd"`
	Timed       *bool  `yaml:"timed"` // virtual: model frame timing (default true under the simulated clock)
	// Faults is noise the bus injects, drawn from the run's seed
	// (faults.go); virtual buses only.
	Faults []Fault `yaml:"faults"`
	// Restbus sends the cyclic traffic of the vehicle's other ECUs from a
	// DBC file (restbus.go).
	Restbus *Restbus `yaml:"restbus"`
}

// Backend says where the Director and Image repositories are.
type Backend struct {
	Mode        string `yaml:"mode"`         // "embedded" (in-process) or "remote"
	Listen      string `yaml:"listen"`       // embedded: serve HTTP here too (e.g. 127.0.0.1:8470), "" for in-process only
	DirectorURL string `yaml:"director_url"` // remote: the Director's base; a vehicle's files are at DIRECTOR_URL/VIN/...
	ImageURL    string `yaml:"image_url"`    // remote: the Image repository's base
	Expiry      Expiry `yaml:"expiry"`
	// KeyTypes is what the embedded repositories sign with.
	KeyTypes RepoKeyTypes `yaml:"key_types"`
}

// RepoKeyTypes is the key type each embedded repository makes its keys of
// (every top-level role; the Image repository's supplier roles too): one
// of keys.Types — ed25519 (default), ecdsa (P-256; ecdsa-sha2-nistp256 is
// the same), ecdsa-sha2-nistp384, rsa (RSA-PSS 2048 bit), rsa-3072,
// rsa-4096.
type RepoKeyTypes struct {
	Director string `yaml:"director"`
	Image    string `yaml:"image"`
}

// Expiry sets how long each role's metadata is valid.
type Expiry struct {
	Root      time.Duration `yaml:"root"`
	Targets   time.Duration `yaml:"targets"`
	Snapshot  time.Duration `yaml:"snapshot"`
	Timestamp time.Duration `yaml:"timestamp"`
}

// Vehicle identifies the vehicle.
type Vehicle struct {
	VIN string `yaml:"vin"`
}

// Roles and values.
const (
	Primary   = "primary"
	Secondary = "secondary"
	Full      = "full"
	Partial   = "partial"
	Virtual   = "virtual"
	SocketCAN = "socketcan"
	InProcess = "in-process"
	External  = "external"
	Physical  = "physical"
	// AktualizrSecondary: the real aktualizr-secondary, started by uptane-hil.
	AktualizrSecondary = "aktualizr-secondary"
	UDS                = "uds"
	AktualizrIP        = "aktualizr-ip"
	Simulated          = "simulated"
	WallClock          = "wall"
	Embedded           = "embedded"
	Remote             = "remote"
)

// Load reads and validates a rig file.
func Load(path string) (*Rig, error) {
	var r Rig
	doc, err := yamlx.ReadFile(path, &r)
	if err != nil {
		return nil, err
	}
	r.File, r.doc = path, doc
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Parse validates rig data named file.
func Parse(file string, data []byte) (*Rig, error) {
	var r Rig
	doc, err := yamlx.Decode(file, data, &r)
	if err != nil {
		return nil, err
	}
	r.File, r.doc = file, doc
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Errorf returns an error located at a field of the rig file.
func (r *Rig) Errorf(field, format string, args ...any) error {
	if r.doc == nil {
		return fmt.Errorf("%s: %s: %s", r.File, field, fmt.Sprintf(format, args...))
	}
	return r.doc.Errorf(field, format, args...)
}

// Primary returns the Primary ECU.
func (r *Rig) Primary() *ECU {
	for i := range r.ECUs {
		if r.ECUs[i].Role == Primary {
			return &r.ECUs[i]
		}
	}
	return nil
}

// Secondaries returns the Secondary ECUs in file order.
func (r *Rig) Secondaries() []*ECU {
	var out []*ECU
	for i := range r.ECUs {
		if r.ECUs[i].Role == Secondary {
			out = append(out, &r.ECUs[i])
		}
	}
	return out
}

// ECU returns the ECU with the given identifier.
func (r *Rig) ECU(id string) *ECU {
	for i := range r.ECUs {
		if r.ECUs[i].ID == id {
			return &r.ECUs[i]
		}
	}
	return nil
}

// DUT returns the device under test (the ECU with dut: true), or nil.
func (r *Rig) DUT() *ECU {
	for i := range r.ECUs {
		if r.ECUs[i].DUT {
			return &r.ECUs[i]
		}
	}
	return nil
}

// Bus returns the bus with the given name.
func (r *Rig) Bus(name string) *Bus {
	for i := range r.Buses {
		if r.Buses[i].Name == name {
			return &r.Buses[i]
		}
	}
	return nil
}

// IsTimed reports whether a virtual bus models frame timing.
func (r *Rig) IsTimed(b *Bus) bool {
	if b.Timed != nil {
		return *b.Timed
	}
	return b.Kind == Virtual && r.Clock == Simulated
}
