package bus

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
)

// File is one file the attacker sends: a metadata file of a repository
// ("director" or "image", with its repository file name) or, for the
// image, the target name (Repo empty).
type File struct {
	Repo, Name string
	Data       []byte
}

// Session is what an attacker speaking as the Primary hands a Secondary, in
// the order of an update cycle (docs/pouf.md, "One update cycle").
type Session struct {
	Nonce    []byte    // written to DID 0xF1A3 (starts the ECU's cycle)
	Time     time.Time // written to DID 0xF1A4, unauthenticated (the attacker holds no time server key)
	Metadata []File    // sent, then the verify-metadata routine
	Image    File      // sent, then verify image, install and ECUReset
	// Trickle, when set, sends the image in blocks of Chunk bytes, Pace
	// apart (slow retrieval: each block inside the ECU's session timeout).
	Trickle *Trickle
}

// Trickle is how slowly an attacker speaking as the Primary sends a file.
type Trickle struct {
	Chunk int
	Pace  time.Duration
}

// AsPrimary attaches a node to b that uses the Primary's identifiers of ch
// (a compromised Primary, or a device on the diagnostic port that talks
// with the Primary's CAN ids) and plays s with the ECU ecu over the
// in-vehicle protocol: nonce, time, metadata, verify metadata, image,
// verify image, install, reset. It returns nil when the ECU took it all and
// rebooted, or the first refusal: a failed routine is a *pouf.RoutineError
// that unwraps to the *check.Error the ECU named. It must run on an actor
// of clk.
func AsPrimary(b can.Bus, clk clock.Clock, ch Channel, ecu string, s Session) error {
	conn, err := isotp.New(b, clk, ch.options("attacker>"+ecu, ch.Request, ch.Response))
	if err != nil {
		return fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	defer conn.Close()
	c := pouf.NewClient(uds.NewClient(conn, clk, clientConfig(clk)), ecu)
	steps := []func() error{
		func() error { return c.WriteNonce(s.Nonce) },
		// a conformant ECU refuses the unauthenticated time
		// (verify_time.attestation) and keeps its own: the attacker goes on
		func() error { _ = c.WriteRawTime(s.Time); return nil },
	}
	for _, f := range s.Metadata {
		steps = append(steps, func() error { return c.PutMetadata(f.Repo, f.Name, f.Data, nil) })
	}
	steps = append(steps,
		func() error { _, err := c.VerifyMetadata(); return err },
		func() error {
			if t := s.Trickle; t != nil {
				c.Chunk, c.Pace, c.Resumes = t.Chunk, t.Pace, 0
				defer func() { c.Chunk, c.Pace = 0, 0 }()
			}
			return c.PutImage(s.Image.Name, s.Image.Data, nil)
		},
		c.VerifyImage,
		c.Install,
		c.Reset,
	)
	for _, st := range steps {
		if err := st(); err != nil {
			return err
		}
	}
	return nil
}

// WriteTime attaches a node to b as AsPrimary does and writes the
// unauthenticated time t to the ECU's DIDTime in the extended session (a
// device on the diagnostic port, or any node that can send on the ECU's
// request id: it holds no time server key). It returns the ECU's answer: nil
// when it took the time. A time far ahead would lock the ECU out of every
// later update (docs/pouf.md, "Time"). It must run on an actor of clk.
func WriteTime(b can.Bus, clk clock.Clock, ch Channel, ecu string, t time.Time) error {
	conn, err := isotp.New(b, clk, ch.options("attacker>"+ecu, ch.Request, ch.Response))
	if err != nil {
		return fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	defer conn.Close()
	c := pouf.NewClient(uds.NewClient(conn, clk, clientConfig(clk)), ecu)
	return c.WriteRawTime(t)
}

// clientConfig is the UDS client of an attacker node. On the wall clock it
// waits for an answer as long as the harness's own Primary does
// (vehicle.WallSlack on top of the ECU's P2): the ECU under attack shares
// the host's CPUs with the harness (in the vcan VM, one emulated CPU), and
// a request the attacker gave up on after the bare 250 ms is an attack
// that never met the ECU's check, not a refusal. On the simulated clock
// answers come in simulated time: the defaults.
func clientConfig(clk clock.Clock) uds.ClientConfig {
	if clk.Simulated() {
		return uds.ClientConfig{}
	}
	return uds.ClientConfig{Slack: vehicle.WallSlack}
}
