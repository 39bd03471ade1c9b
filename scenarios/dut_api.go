package scenarios

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// NotApplicable is the verdict of a scenario that cannot judge the device
// under test (its Detail says why); a report counts it apart, neither
// passed nor failed.
const NotApplicable = "not applicable"

// Target says what a Result judges.
type Target uint8

const (
	// Simulated: every ECU runs in this process (a run without a DUT).
	Simulated Target = iota
	// OnDUT: the conformant run, judged on the device under test.
	OnDUT
	// Twin: the control run, on the DUT's simulated twin (same profile,
	// bus and ids) in this process.
	Twin
)

// String is the target in a report's words: "", "dut", "twin".
func (t Target) String() string {
	switch t {
	case OnDUT:
		return "dut"
	case Twin:
		return "twin"
	}
	return ""
}

// Identity is what the DUT says about itself on the bus, read before each
// scenario (docs/pouf.md's identity DIDs and its signed version report).
type Identity struct {
	ECU        string    // DID 0xF18C
	HardwareID string    // DID 0xF191
	VIN        string    // DID 0xF190
	Profile    string    // DID 0xF1A5: "full" or "partial"
	KeyID      string    // key ID of its public key (DID 0xF1A0)
	Installed  string    // target file name its signed version report names
	Release    uint64    // that image's release counter
	Time       time.Time // the latest attested time it reports
	// Counter is its version report's counter (report_counter), which goes
	// up with every report it signs
	Counter uint64
}

// DUT in RunOptions: when set, the conformant run of each scenario is
// played against the device under test, the control run against its twin.
type DUT struct {
	ECU   string // the rig's ECU id
	State string // the state directory: backend and planning state persist here
	// Buses hands over the buses the DUT is on, opened on the wall clock
	// (a spec's virtual bus shared with a DUT it serves itself); nil opens
	// the rig's (SocketCAN) buses.
	Buses map[string]can.Bus
	// Wait bounds how long each scenario waits for the DUT to answer on
	// its bus (0: vehicle.DefaultWait).
	Wait time.Duration
}
