package vehicle

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/kisotp"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// DefaultWait is how long a bring-up waits for an ECU in another process
// (or a physical one) to answer on the bus, and for the backend to answer.
const DefaultWait = 60 * time.Second

// ErrIdentity is wrapped by the error of an ECU outside this process that
// says on the bus it is another than the rig's (hardware, VIN, profile or
// key): the wrong ECU on the bench, which no retry mends.
var ErrIdentity = errors.New("not the rig's ECU")

// checkIdentity compares what an ECU outside this process says about
// itself with the rig and the Director's inventory.
func (v *Vehicle) checkIdentity(e *rigs.ECU, id pouf.Identity) error {
	if id.HardwareID != e.HardwareID {
		return fmt.Errorf("vehicle: %s reports hardware %q on the bus; the rig says %q: %w", e.ID, id.HardwareID, e.HardwareID, ErrIdentity)
	}
	if id.VIN != v.Rig.Vehicle.VIN {
		return fmt.Errorf("vehicle: %s reports VIN %q on the bus; the rig says %q: %w", e.ID, id.VIN, v.Rig.Vehicle.VIN, ErrIdentity)
	}
	if id.Verification != e.Profile {
		return fmt.Errorf("vehicle: %s reports %s verification on the bus; the rig says profile: %s: %w", e.ID, id.Verification, e.Profile, ErrIdentity)
	}
	got, err := keys.ID(id.Key)
	if err != nil {
		return fmt.Errorf("vehicle: %s: its signing key: %w", e.ID, err)
	}
	want, err := keys.ID(v.InventoryKey(e))
	if err != nil {
		return fmt.Errorf("vehicle: %s: the rig's public_key: %w", e.ID, err)
	}
	if got != want {
		if e.PublicKey != nil {
			return fmt.Errorf("vehicle: %s signs with key %s, but the rig's public_key (in the Director's inventory) is key %s: copy the key the ECU reports into the rig (%w)", e.ID, short(got), short(want), ErrIdentity)
		}
		return fmt.Errorf("vehicle: %s signs with key %s, but the Director's inventory has key %s (derived from seed %d): "+
			"an ECU in its own process must be provisioned with the same seed (remove its state directory to provision it again); "+
			"a physical ECU with its own key needs public_key: in the rig (%w)", e.ID, short(got), short(want), v.Seed, ErrIdentity)
	}
	return nil
}

// The diagnostic server model of every Secondary on a bus (docs/pouf.md,
// "Timing"): under the simulated clock each request it processes costs
// ServiceTime of its processor (on a wall clock the host's processor takes
// what it takes); its rate limit (pouf.rate_limit) is a token bucket of
// RateBurst requests refilled at uds.DefaultRateLimit per second, so that
// under a flood it processes at most 200 requests a second, evenly spread
// (40% of its processor), and answers the rest busy; RequestQueue requests
// wait for it in its ISO-TP receive queue, beyond that they are lost.
const (
	ServiceTime  = 2 * time.Millisecond
	RateBurst    = 50
	RequestQueue = 256
)

// RateRefill is how long the rate limit's bucket takes to fill again once a
// burst has emptied it: RateBurst requests at uds.DefaultRateLimit per
// uds.DefaultRateWindow.
const RateRefill = RateBurst * uds.DefaultRateWindow / uds.DefaultRateLimit

// secondaryServer is the UDS server configuration of Secondary e on bus
// under profile p, in this process or as its own (ServeSecondary): its
// limits (onCheck records a check the server fires in the ECU's state) and
// its programming preconditions. A Secondary with preconditions (rig
// preconditions:) whose profile performs pouf.programming_preconditions
// reads them off its bus: every frame on the wire, whoever sent it (the
// harness's rest-bus, a real car's network, an attacker), decoded with the
// bus's DBC file (restbus.Monitor: a signal never seen or stale is unmet);
// its server refuses the programming session, file transfers and the
// install with NRC 0x22 while they do not hold, and DID 0xF1A9 says which
// (the Handler reads ServerConfig.Preconditions). log, when set, hears
// what the ECU reads (restbus.Monitor.Notify); stop ends the reading.
func secondaryServer(bus can.Bus, clk clock.Clock, e *rigs.ECU, p check.Profile, onCheck func(*check.Error), log func(string)) (cfg uds.ServerConfig, stop func()) {
	cfg = uds.ServerConfig{Name: e.ID, MaxFileSize: 1 << 26, RateBurst: RateBurst}
	if clk.Simulated() {
		cfg.ServiceTime = ServiceTime
	}
	cfg = secondary.ServerLimits(cfg, p, onCheck)
	conds := e.Conditions()
	if len(conds) == 0 || !p.On(check.PoufProgrammingPreconditions) {
		return cfg, func() {}
	}
	m := restbus.Watch(bus, clk, conds)
	if log != nil {
		m.Notify(log)
	}
	return secondary.ServerPreconditions(cfg, p, m.Check), m.Stop
}

// PreconditionsText says, for an ECU's log, which programming
// preconditions Secondary e reads from which bus, and how old a value may
// be; "" when it declares none.
func PreconditionsText(r *rigs.Rig, e *rigs.ECU) string {
	conds := e.Conditions()
	if len(conds) == 0 {
		return ""
	}
	parts := make([]string, len(conds))
	for i, c := range conds {
		stale := "never stale"
		if c.Timeout > 0 {
			stale = "stale after " + c.Timeout.String()
		}
		if c.E2E != nil {
			stale += ", " + c.E2E.String() + ": a frame that fails it is discarded, the signal invalid until 2 good frames in a row"
		}
		parts[i] = fmt.Sprintf("%s (%s %#x, %s)", c, c.Message.Name, c.Message.ID, stale)
	}
	iface := ""
	if b := r.Bus(e.Bus); b != nil && b.Interface != "" {
		iface = " (" + b.Interface + ")"
	}
	return fmt.Sprintf("programming preconditions %s, read from bus %s%s", strings.Join(parts, "; "), e.Bus, iface)
}

// secondaryISOTP is the ISO-TP options of the ECU's end of its channel.
func secondaryISOTP(e *rigs.ECU) isotp.Options {
	o := isotpOptions(e, e.ID, e.ISOTP.Response, e.ISOTP.Request)
	o.RxQueue = RequestQueue
	return o
}

// connect serves the Secondary's UDS on ISO-TP on its bus (when it runs
// in this process) and gives the Primary a pouf client to it.
func (v *Vehicle) connect(s *Secondary) error {
	e := s.Rig
	bus := v.Buses[e.Bus]
	if bus == nil {
		return fmt.Errorf("vehicle: %s: no bus %q", e.ID, e.Bus)
	}
	if s.ECU != nil {
		node := &secondary.Node{Config: s.Config, VIN: v.Rig.Vehicle.VIN, Bus: bus, Clock: v.Clock, ISOTP: secondaryISOTP(e)}
		if e.ISOTP.Stack == rigs.StackKernel {
			node.Open = func() (secondary.Channel, error) { return OpenISOTP(bus, v.Clock, e, secondaryISOTP(e)) }
		}
		node.Server, _ = secondaryServer(bus, v.Clock, e, v.opts.profile(e.ID), func(ce *check.Error) {
			if ecu := node.ECU(); ecu != nil {
				ecu.RecordAttack(ce)
			}
		}, nil)
		s.BusNode = node
		if err := s.BusNode.Start(s.ECU); err != nil {
			return fmt.Errorf("vehicle: %w", err)
		}
	}
	c, err := DialSecondary(bus, v.Clock, v.Rig.Primary().ID, e)
	if err != nil {
		return err
	}
	s.Client = c
	s.Link = &link.Pouf{C: c}
	return nil
}

// isotpOptions are the ISO-TP options of one end of a Secondary's channel.
func isotpOptions(e *rigs.ECU, name string, tx, rx uint32) isotp.Options {
	o := isotp.Options{Name: name, TxID: tx, RxID: rx, Extended: e.ISOTP.Extended, FD: e.ISOTP.FD, BRS: e.ISOTP.FD,
		BlockSize: uint8(e.ISOTP.BlockSize), STmin: e.ISOTP.STmin, MaxRx: 1 << 26}
	if e.ISOTP.FD {
		o.TxDL = 64
	}
	return o
}

// OpenISOTP opens one end of Secondary e's ISO-TP link on bus with options
// o, on the stack the rig names (isotp.stack): our own (sim/isotp), or the
// kernel's can-isotp (sim/kisotp), which needs a SocketCAN bus and the
// wall clock: its timers are the kernel's.
func OpenISOTP(bus can.Bus, clk clock.Clock, e *rigs.ECU, o isotp.Options) (secondary.Channel, error) {
	if e.ISOTP.Stack != rigs.StackKernel {
		c, err := isotp.New(bus, clk, o)
		if err != nil {
			return nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		return c, nil
	}
	if clk.Simulated() {
		return nil, fmt.Errorf("vehicle: %s: isotp.stack %s: the kernel's can-isotp keeps its timers on wall-clock time, and this run is on the simulated clock (uptane-hil run plays the in-process vehicle on it); give the link stack: %s for such runs", e.ID, rigs.StackKernel, rigs.StackOwn)
	}
	var c *kisotp.Conn
	var err error
	switch b := bus.(type) {
	case KernelISOTPBus:
		c, err = b.OpenKernelISOTP(o)
	case *socketcan.Bus:
		c, err = kisotp.Open(b.Name(), o)
	default:
		return nil, fmt.Errorf("vehicle: %s: isotp.stack %s needs a SocketCAN bus; bus %s is %T", e.ID, rigs.StackKernel, bus.Name(), bus)
	}
	if err != nil {
		return nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	return c, nil
}

// KernelISOTPBus is a bus that opens the kernel's can-isotp channels itself:
// a wrapper of a SocketCAN bus that scopes what a run opens on it (the
// scenarios' DUT session buses close those channels with the run).
type KernelISOTPBus interface {
	OpenKernelISOTP(o isotp.Options) (*kisotp.Conn, error)
}

// ServeSecondary serves the in-vehicle protocol (UDS on ISO-TP) of a booted
// Secondary on its bus at its rig ISO-TP identifiers, until the connection
// (or the bus) is closed. The UDS server's own checks (pouf.rate_limit,
// pouf.transfer_size) and its programming preconditions, read off the bus,
// follow the ECU's profile exactly as for a Secondary in the harness's
// process (secondaryServer); log (nil: nowhere) hears what it reads of
// them. Closing the connection stops reading them.
func ServeSecondary(bus can.Bus, clk clock.Clock, e *rigs.ECU, ecu *secondary.ECU, vin string, log func(string)) (*secondary.Handler, secondary.Channel, error) {
	conn, err := OpenISOTP(bus, clk, e, secondaryISOTP(e))
	if err != nil {
		return nil, nil, err
	}
	h := secondary.NewHandler(ecu, vin)
	cfg, stop := secondaryServer(bus, clk, e, ecu.Profile(), func(ce *check.Error) { h.ECU().RecordAttack(ce) }, log)
	h.SetConditions(cfg.Preconditions)
	srv := uds.NewServer(conn, clk, h, cfg)
	clk.Go(e.ID+" UDS server", func() { _ = srv.Serve() })
	return h, stopping{conn, stop}, nil
}

// stopping is a channel whose Close also ends what serves beside it.
type stopping struct {
	secondary.Channel
	stop func()
}

func (s stopping) Close() error {
	s.stop()
	return s.Channel.Close()
}

// WallSlack is what a Primary on a wall-clock rig adds to a Secondary's
// announced P2 and P2* for the transport: ECUs in other processes share the
// host's CPUs (in the vcan VM, six processes on one emulated CPU), so an
// answer can come later than on a bench ECU. Two seconds: one was seen to
// run out once (signing a version report) on a 2-core CI host at load 10.
const WallSlack = 2 * time.Second

// DialSecondary opens the Primary's end of a Secondary's channel on its
// bus and returns a pouf client over it.
func DialSecondary(bus can.Bus, clk clock.Clock, primaryID string, e *rigs.ECU) (*pouf.Client, error) {
	conn, err := OpenISOTP(bus, clk, e, isotpOptions(e, primaryID+">"+e.ID, e.ISOTP.Request, e.ISOTP.Response))
	if err != nil {
		return nil, err
	}
	cfg := uds.ClientConfig{}
	if !clk.Simulated() {
		cfg.Slack = WallSlack
	}
	return pouf.NewClient(uds.NewClient(conn, clk, cfg), e.ID), nil
}

// WaitForECU waits until the ECU answers on its bus (ReadDataByIdentifier
// of its serial number, then its whole identity), at most wait (0:
// DefaultWait). The error names the ECU, its bus and how it should run.
func WaitForECU(c *pouf.Client, r *rigs.Rig, e *rigs.ECU, wait time.Duration) (pouf.Identity, error) {
	if wait <= 0 {
		wait = DefaultWait
	}
	clk := c.UDS().Clock()
	deadline := clk.Now().Add(wait)
	var last error
	for {
		b, err := c.UDS().ReadDID(pouf.DIDECUSerial)
		if err == nil {
			if string(b) != e.ID {
				return pouf.Identity{}, fmt.Errorf("vehicle: the ECU at %s's address (request %#x) on bus %s says it is %q", e.ID, e.ISOTP.Request, e.Bus, b)
			}
			id, err := c.ReadIdentity()
			if err == nil {
				return id, nil
			}
			last = err
		} else {
			last = err
		}
		if !clk.Now().Before(deadline) {
			break
		}
		clk.Sleep(200 * time.Millisecond)
	}
	how := fmt.Sprintf("is `uptane-hil ecu --rig %s --ecu %s` running?", r.File, e.ID)
	if e.Process == rigs.Physical {
		how = "is the ECU powered and on the bus, at the rig's ISO-TP identifiers and bit rate?"
	}
	iface := ""
	if b := r.Bus(e.Bus); b != nil && b.Interface != "" {
		iface = " (" + b.Interface + ")"
	}
	return pouf.Identity{}, fmt.Errorf("vehicle: ECU %s (process: %s) did not answer on bus %s%s at request %#x, response %#x within %s: %v; %s",
		e.ID, e.Process, e.Bus, iface, e.ISOTP.Request, e.ISOTP.Response, wait, last, how)
}
