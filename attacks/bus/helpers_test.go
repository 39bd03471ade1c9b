package bus_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// clockStart is when every bench starts.
var clockStart = clock.Epoch

// The diagnostic channel of the ECU on the bench bus.
var ch = bus.Channel{Request: 0x7E1, Response: 0x7E9}

// bench is a timed classic CAN bus at 500 kbit/s under a simulated clock.
type bench struct {
	sim *clock.Sim
	bus *vbus.Bus
}

// onBench runs body as the root actor of a fresh bench.
func onBench(body func(b *bench)) {
	GinkgoHelper()
	b := &bench{sim: clock.NewSim(time.Time{})}
	b.sim.SetHorizon(time.Hour)
	err := b.sim.Run("bench", func() {
		var err error
		b.bus, err = vbus.Open(vbus.Config{Name: "powertrain", Clock: b.sim, Bitrate: 500000, Seed: 1})
		Expect(err).NotTo(HaveOccurred())
		body(b)
		b.bus.Close()
	})
	Expect(err).NotTo(HaveOccurred())
}

// serve starts a UDS server for h as the ECU named name on the bench.
func (b *bench) serve(name string, h uds.Handler, cfg uds.ServerConfig) {
	GinkgoHelper()
	conn, err := isotp.New(b.bus, b.sim, isotp.Options{Name: name, TxID: ch.Response, RxID: ch.Request, RxQueue: 256})
	Expect(err).NotTo(HaveOccurred())
	cfg.Name = name
	srv := uds.NewServer(conn, b.sim, h, cfg)
	b.sim.Go(name+" server", func() { _ = srv.Serve() })
}

// primary returns the Primary's client of the bench ECU.
func (b *bench) primary() *pouf.Client {
	GinkgoHelper()
	conn, err := isotp.New(b.bus, b.sim, isotp.Options{Name: "primary", TxID: ch.Request, RxID: ch.Response})
	Expect(err).NotTo(HaveOccurred())
	return pouf.NewClient(uds.NewClient(conn, b.sim, uds.ClientConfig{}), "BRK-1")
}

// fakeECU speaks the in-vehicle protocol as a Secondary would, without
// Uptane: it logs what it is asked, in order, and fails the routine named
// in fail with a check.
type fakeECU struct {
	uds.BaseHandler
	log    []string
	fail   uint16
	report []byte
}

func (e *fakeECU) WriteDID(did uint16, data []byte) error {
	switch did {
	case pouf.DIDNonce:
		e.log = append(e.log, "nonce")
	case pouf.DIDTime:
		e.log = append(e.log, "time")
	default:
		return e.BaseHandler.WriteDID(did, data)
	}
	return nil
}

func (e *fakeECU) ReadDID(did uint16) ([]byte, error) {
	if did == pouf.DIDVersionReport && e.report != nil {
		return e.report, nil
	}
	return e.BaseHandler.ReadDID(did)
}

func (e *fakeECU) Routine(id uint16, ctl uds.RoutineControlType, params []byte) ([]byte, error) {
	GinkgoHelper()
	e.log = append(e.log, pouf.RoutineName(id))
	r := pouf.Result{Status: pouf.Passed}
	if id == pouf.RoutineVerifyMetadata {
		r.Data = []byte{1}
	}
	if id == e.fail {
		r = pouf.FailedResult(check.Fail(check.VerifyImageHashes, "director", "targets", "the image does not match"))
	}
	return r.Encode()
}

func (e *fakeECU) StartDownload(req uds.FileRequest) (uds.FileSink, error) {
	return &fakeSink{e: e, path: req.Path}, nil
}

func (e *fakeECU) Reset(uds.ResetType) { e.log = append(e.log, "reset") }

type fakeSink struct {
	e    *fakeECU
	path string
	n    int
}

func (s *fakeSink) Offset() uint64       { return 0 }
func (s *fakeSink) Write(p []byte) error { s.n += len(p); return nil }
func (s *fakeSink) Commit() error {
	s.e.log = append(s.e.log, s.path)
	return nil
}
func (s *fakeSink) Abort(bool) {}
