package secondary

import (
	"fmt"
	"sync"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
)

// Node is a Secondary as a box on a CAN bus with a power supply: the ECU
// booted from its state directory, its Handler, a UDS server and the ISO-TP
// channel under it.
//
// A power cut (a store.Crash at any crash point the ECU passes while it
// serves a request, or PowerOff) stops the box at once, as on a real bus:
// the ISO-TP channel is closed before the request that was being served can
// be answered, so the ECU sends no negative response and no further frame
// (frames still queued for the wire are dropped), and the server ends.
// Everything in RAM goes: partial downloads, the files and verification of
// the cycle, the version report, the UDS session, ISO-TP reassembly. What
// the store made durable stays. PowerOn boots a fresh ECU from the state
// directory and serves it with a fresh Handler, server and ISO-TP channel on
// the same identifiers. The Primary sees only timeouts meanwhile.
type Node struct {
	Config Config // as for Boot; Config.Crash also gives the points of a cut
	VIN    string
	Bus    can.Bus
	Clock  clock.Clock
	ISOTP  isotp.Options    // the ECU's side: TxID its response, RxID its request identifier
	Server uds.ServerConfig // Name defaults to the ECU identifier
	// Open, when set, opens the ECU's end of its ISO-TP channel at each
	// power-on instead of isotp.New(Bus, Clock, ISOTP) (the kernel's
	// can-isotp: rigs.StackKernel).
	Open func() (Channel, error)

	mu      sync.Mutex
	handler *Handler
	conn    Channel
	cut     string
	boots   int
}

// Channel is one end of an ISO-TP channel: our stack's *isotp.Conn or the
// kernel's can-isotp (*kisotp.Conn).
type Channel interface {
	uds.Transport
	Close() error
}

// Start serves an ECU that is already booted (a vehicle's bring-up).
func (n *Node) Start(e *ECU) error { return n.serve(e) }

// PowerOn boots the ECU from its state directory and serves it. A power cut
// while it boots (a crash point of the boot) leaves it unpowered and is
// returned as an error wrapping ErrNoPower. It must run on an actor of the
// Node's clock.
func (n *Node) PowerOn() (err error) {
	n.mu.Lock()
	on := n.handler != nil && n.handler.Cut() == ""
	n.mu.Unlock()
	if on {
		return fmt.Errorf("secondary %s: power on: the ECU is already powered", n.Config.ID)
	}
	var e *ECU
	func() {
		defer func() {
			if r := recover(); r != nil {
				c, ok := r.(store.Crash)
				if !ok {
					panic(r)
				}
				n.mu.Lock()
				n.cut = c.Point
				n.mu.Unlock()
				err = fmt.Errorf("secondary %s: power on: %w (cut at %s)", n.Config.ID, ErrNoPower, c.Point)
			}
		}()
		e, err = Boot(n.Config)
	}()
	if err != nil {
		return err
	}
	return n.serve(e)
}

func (n *Node) serve(e *ECU) error {
	var conn Channel
	var err error
	if n.Open != nil {
		conn, err = n.Open()
	} else {
		conn, err = isotp.New(n.Bus, n.Clock, n.ISOTP)
	}
	if err != nil {
		return fmt.Errorf("secondary %s: %w", n.Config.ID, err)
	}
	h := NewHandler(e, n.VIN)
	h.SetConditions(n.Server.Preconditions)
	// silence the server before the request in hand can be answered
	h.onCut = func(string) { conn.Close() }
	cfg := n.Server
	if cfg.Name == "" {
		cfg.Name = n.Config.ID
	}
	srv := uds.NewServer(conn, n.Clock, h, cfg)
	n.mu.Lock()
	n.handler, n.conn, n.cut = h, conn, ""
	n.boots++
	name := fmt.Sprintf("%s UDS server", n.Config.ID)
	if n.boots > 1 {
		name = fmt.Sprintf("%s UDS server (power-on %d)", n.Config.ID, n.boots)
	}
	n.mu.Unlock()
	n.Clock.Go(name, func() { _ = srv.Serve() })
	return nil
}

// PowerOff cuts the power now, between two crash points (a cut by time or
// by hand rather than at a point of the ECU's work). It must run on an actor
// of the Node's clock.
func (n *Node) PowerOff() {
	n.mu.Lock()
	h := n.handler
	n.mu.Unlock()
	if h == nil {
		return
	}
	h.powerCut("power-off")
	n.mu.Lock()
	conn := n.conn
	n.mu.Unlock()
	conn.Close()
}

// Cut returns the crash point at which the ECU lost power ("power-off" for
// PowerOff), or "" while it is powered.
func (n *Node) Cut() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut != "" {
		return n.cut
	}
	if n.handler == nil {
		return "power-off"
	}
	return n.handler.Cut()
}

// Handler returns the Handler of the ECU that runs now, or nil when the
// ECU is unpowered.
func (n *Node) Handler() *Handler {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.handler == nil || n.handler.Cut() != "" {
		return nil
	}
	return n.handler
}

// ECU returns the running ECU (an ECUReset or a power-on replaces it), or
// nil when the ECU is unpowered.
func (n *Node) ECU() *ECU {
	if h := n.Handler(); h != nil {
		return h.ECU()
	}
	return nil
}
