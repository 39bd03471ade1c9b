package bus

import (
	"errors"
	"fmt"
	"sync"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// ErrNoBusOff: the bus does not model bus-off (SocketCAN: vcan has no
// error signalling at all).
var ErrNoBusOff = errors.New("bus: this bus does not model bus-off")

// Silence drives the node named node bus-off and keeps it there until
// restore is called: the error-frame attack on a victim's transmissions
// (its transmit error counter passes 255), after which its frames never
// reach the wire while it still hears everything. It needs a bus that
// models bus-off, the virtual bus (sim/vbus); on others it fails with
// ErrNoBusOff.
func Silence(b can.Bus, node string) (restore func() error, err error) {
	vb, ok := b.(*vbus.Bus)
	if !ok {
		return nil, fmt.Errorf("%w: silencing %s needs the virtual bus; %s is a %T", ErrNoBusOff, node, b.Name(), b)
	}
	name := "attacker: bus-off " + node
	if err := vb.AddFault(vbus.FaultRule{Name: name, Kind: vbus.BusOff, Nodes: []string{node}}); err != nil {
		return nil, fmt.Errorf("bus: silence %s: %w", node, err)
	}
	return func() error { return vb.RemoveFault(name) }, nil
}

// SpoofConfig configures a spoofed Secondary.
type SpoofConfig struct {
	// ECU is the Secondary the node answers for.
	ECU string
	// Signer signs the forged version reports: the attacker's own key (it
	// does not hold the ECU's).
	Signer keys.Signer
	// Claim is the image each forged report says is installed.
	Claim func() (manifest.Image, error)
	// Counter is the report counter of the first forged report; each next
	// one adds one.
	Counter uint64
	// Replay, when set, is a genuine signed version report of the ECU
	// recorded earlier (ReadReport): the node hands it out unchanged
	// instead of forging one (no signer or claim needed).
	Replay []byte
}

// Spoof is a node that answers on a Secondary's response identifier in its
// place: it takes the Primary's nonce and time, accepts and drops every
// file, passes every routine (verify metadata: "no new image"), and hands
// out version reports that carry the Primary's nonce and claim cfg.Claim is
// installed, signed with the attacker's key.
type Spoof struct {
	conn *isotp.Conn
	h    *spoofHandler
}

// NewSpoof attaches the spoofed Secondary to b and starts serving on an
// actor of clk. Silence the real ECU first, or both answer.
func NewSpoof(b can.Bus, clk clock.Clock, ch Channel, cfg SpoofConfig) (*Spoof, error) {
	if cfg.Replay == nil && (cfg.Signer == nil || cfg.Claim == nil) {
		return nil, fmt.Errorf("bus: spoofing %s needs a signer and a claim, or a report to replay", cfg.ECU)
	}
	conn, err := isotp.New(b, clk, ch.options("attacker as "+cfg.ECU, ch.Response, ch.Request))
	if err != nil {
		return nil, fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	h := &spoofHandler{cfg: cfg, clk: clk, counter: cfg.Counter}
	srv := uds.NewServer(conn, clk, h, uds.ServerConfig{Name: "attacker-as-" + cfg.ECU, MaxFileSize: 1 << 26})
	clk.Go("attacker as "+cfg.ECU+" UDS server", func() { _ = srv.Serve() })
	return &Spoof{conn: conn, h: h}, nil
}

// ReadReport attaches a node to b that uses the Primary's identifiers of ch
// (a device on the diagnostic port) and asks the ECU ecu for a version
// report, as the Primary does after its nonce (routine 0xFF13, DID 0xF1A2),
// without writing a nonce: the ECU signs a genuine report that carries the
// nonce of its last update cycle. It must run on an actor of clk.
func ReadReport(b can.Bus, clk clock.Clock, ch Channel, ecu string) ([]byte, error) {
	conn, err := isotp.New(b, clk, ch.options("attacker>"+ecu, ch.Request, ch.Response))
	if err != nil {
		return nil, fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	defer conn.Close()
	return pouf.NewClient(uds.NewClient(conn, clk, clientConfig(clk)), ecu).ReadVersionReport()
}

// Reports returns how many forged version reports the node handed out.
func (s *Spoof) Reports() int { s.h.mu.Lock(); defer s.h.mu.Unlock(); return s.h.made }

// Err returns the last error making a forged report, if any.
func (s *Spoof) Err() error { s.h.mu.Lock(); defer s.h.mu.Unlock(); return s.h.err }

// Close takes the node off the bus.
func (s *Spoof) Close() error { return s.conn.Close() }

type spoofHandler struct {
	uds.BaseHandler
	cfg     SpoofConfig
	clk     clock.Clock
	mu      sync.Mutex
	nonce   []byte
	report  []byte
	counter uint64
	made    int
	err     error
}

func (h *spoofHandler) ReadDID(did uint16) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if did == pouf.DIDVersionReport {
		if h.report == nil {
			return nil, uds.Refuse(uds.ConditionsNotCorrect, "no version report created since the last nonce")
		}
		return h.report, nil
	}
	return h.BaseHandler.ReadDID(did)
}

func (h *spoofHandler) WriteDID(did uint16, data []byte) error {
	switch did {
	case pouf.DIDNonce:
		if err := pouf.ValidNonce(data); err != nil {
			return uds.Refuse(uds.RequestOutOfRange, "%v", err)
		}
		h.mu.Lock()
		h.nonce, h.report = append([]byte(nil), data...), nil
		h.mu.Unlock()
		return nil
	case pouf.DIDTime:
		return nil // whatever time attestation the Primary forwards
	}
	return h.BaseHandler.WriteDID(did, data)
}

func (h *spoofHandler) Routine(id uint16, ctl uds.RoutineControlType, params []byte) ([]byte, error) {
	r := pouf.Result{Status: pouf.Passed}
	switch id {
	case pouf.RoutineVerifyMetadata:
		r.Data = []byte{0} // nothing new: the Primary sends no image
	case pouf.RoutineVerifyImage, pouf.RoutineInstall, pouf.RoutineAbort:
	case pouf.RoutineVersionReport:
		if err := h.forge(); err != nil {
			r = pouf.FailedResult(err)
		}
	default:
		return h.BaseHandler.Routine(id, ctl, params)
	}
	return r.Encode()
}

// forge makes the next forged version report (or takes the replayed one).
func (h *spoofHandler) forge() error {
	if h.cfg.Replay != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.report = h.cfg.Replay
		h.made++
		return nil
	}
	img, err := h.cfg.Claim()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		r := manifest.NewReport(h.cfg.ECU, img, nil, h.clk.Now(), h.nonce, h.counter)
		var sr manifest.SignedReport
		if sr, err = manifest.SignReport(r, h.cfg.Signer); err == nil {
			h.report, err = sr.Encode()
		}
	}
	if err != nil {
		h.err = fmt.Errorf("bus: forge a version report of %s: %w", h.cfg.ECU, err)
		return h.err
	}
	h.counter++
	h.made++
	return nil
}

// StartDownload takes every file and drops it.
func (h *spoofHandler) StartDownload(req uds.FileRequest) (uds.FileSink, error) {
	if _, err := pouf.ParsePath(req.Path); err != nil {
		return nil, uds.Refuse(uds.RequestOutOfRange, "%v", err)
	}
	return discard{}, nil
}

type discard struct{}

func (discard) Offset() uint64       { return 0 }
func (discard) Write([]byte) error   { return nil }
func (discard) Commit() error        { return nil }
func (discard) Abort(resumable bool) {}
