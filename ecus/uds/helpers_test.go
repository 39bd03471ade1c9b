package uds_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// fakeECU is a Handler with DIDs, routines and files in memory.
type fakeECU struct {
	uds.BaseHandler
	clk         clock.Clock
	dids        map[uint16][]byte
	writable    map[uint16]bool
	secured     map[uint16]bool
	routineTime time.Duration // how long routine 0xFF12 works
	routineRuns int
	files       map[string][]byte
	partial     map[string][]byte // kept by a resumable abort
	writes      int               // sink writes
	aborts      []bool            // resumable flag of each abort
	resets      []uds.ResetType
	failWrite   bool
	failCommit  bool
	refuseFiles bool
	refuseSess  bool
	panicDID    uint16
}

func newFake(clk clock.Clock) *fakeECU {
	return &fakeECU{clk: clk,
		dids:     map[uint16][]byte{0xF18C: []byte("ecu-1"), 0xF191: []byte("hw-a")},
		writable: map[uint16]bool{0xF1A3: true},
		secured:  map[uint16]bool{0xF1B0: true},
		files:    map[string][]byte{}, partial: map[string][]byte{}}
}

func (f *fakeECU) ReadDID(did uint16) ([]byte, error) {
	if did == f.panicDID && did != 0 {
		panic("boom")
	}
	switch did {
	case 0xDEAD:
		return nil, errors.New("sensor broken")
	case 0xBEEF:
		return bytes.Repeat([]byte{1}, 5000), nil
	}
	if f.secured[did] {
		return nil, uds.Refuse(uds.SecurityAccessDenied, "locked")
	}
	v, ok := f.dids[did]
	if !ok {
		return nil, uds.Refuse(uds.RequestOutOfRange, "no DID %04X", did)
	}
	return v, nil
}

func (f *fakeECU) WriteDID(did uint16, data []byte) error {
	if f.secured[did] {
		return uds.Refuse(uds.SecurityAccessDenied, "locked")
	}
	if !f.writable[did] {
		return uds.Refuse(uds.RequestOutOfRange, "read-only")
	}
	f.dids[did] = data
	return nil
}

func (f *fakeECU) Routine(id uint16, ctl uds.RoutineControlType, params []byte) ([]byte, error) {
	switch id {
	case 0xFF12:
		if ctl == uds.StartRoutine {
			f.routineRuns++
			f.clk.Sleep(f.routineTime)
		}
		return append([]byte{0x00, byte(ctl)}, params...), nil
	case 0xFF99:
		return bytes.Repeat([]byte{2}, 5000), nil
	}
	return f.BaseHandler.Routine(id, ctl, params)
}

func (f *fakeECU) SessionChange(from, to uds.Session) error {
	if f.refuseSess && to == uds.ExtendedSession {
		return errors.New("vehicle moving")
	}
	return nil
}

type fakeSink struct {
	f    *fakeECU
	path string
	buf  []byte
	off  uint64
}

func (s *fakeSink) Offset() uint64 { return s.off }
func (s *fakeSink) Write(p []byte) error {
	if s.f.failWrite {
		return errors.New("flash write failed")
	}
	s.f.writes++
	s.buf = append(s.buf, p...)
	return nil
}
func (s *fakeSink) Commit() error {
	if s.f.failCommit {
		return errors.New("hash mismatch")
	}
	s.f.files[s.path] = s.buf
	delete(s.f.partial, s.path)
	return nil
}
func (s *fakeSink) Abort(resumable bool) {
	s.f.aborts = append(s.f.aborts, resumable)
	if resumable {
		s.f.partial[s.path] = s.buf
	} else {
		delete(s.f.partial, s.path)
	}
}

func (f *fakeECU) StartDownload(r uds.FileRequest) (uds.FileSink, error) {
	if f.refuseFiles {
		return nil, errors.New("no space")
	}
	s := &fakeSink{f: f, path: r.Path}
	if r.Mode == uds.ResumeFile {
		s.buf = append([]byte(nil), f.partial[r.Path]...)
		s.off = uint64(len(s.buf))
	}
	return s, nil
}

func (f *fakeECU) StartUpload(r uds.FileRequest) (uds.FileSource, error) {
	b, ok := f.files[r.Path]
	if !ok {
		return nil, uds.Refuse(uds.RequestOutOfRange, "no file")
	}
	return bytes.NewReader(b), nil
}

func (f *fakeECU) DeleteFile(path string) error {
	if _, ok := f.files[path]; !ok {
		return uds.Refuse(uds.RequestOutOfRange, "no file")
	}
	delete(f.files, path)
	return nil
}

func (f *fakeECU) Reset(kind uds.ResetType) { f.resets = append(f.resets, kind) }

// bench is one simulated run: a server on one end of a pipe, the spec's
// body on the root actor with a client and the raw tester end.
type bench struct {
	sim    *clock.Sim
	ecu    *fakeECU
	srv    *uds.Server
	raw    *uds.PipeEnd
	client *uds.Client
	hits   []uds.LimitHit
}

func run(cfg uds.ServerConfig, body func(b *bench)) *bench {
	GinkgoHelper()
	b := &bench{sim: clock.NewSim(time.Time{})}
	b.sim.SetHorizon(time.Hour)
	b.ecu = newFake(b.sim)
	tester, ecuEnd := uds.Pipe(b.sim)
	cfg.OnLimit = func(h uds.LimitHit) { b.hits = append(b.hits, h) }
	b.srv = uds.NewServer(ecuEnd, b.sim, b.ecu, cfg)
	b.raw = tester
	b.client = uds.NewClient(tester, b.sim, uds.ClientConfig{})
	err := b.sim.Run("tester", func() {
		b.sim.Go("server", func() { _ = b.srv.Serve() })
		body(b)
		tester.Close()
	})
	Expect(err).NotTo(HaveOccurred())
	return b
}

// ask sends raw bytes and returns the next message (nil if none within 1 s).
func (b *bench) ask(req ...byte) []byte {
	GinkgoHelper()
	Expect(b.raw.Send(req)).To(Succeed())
	return b.next()
}

func (b *bench) next() []byte {
	m, err := b.raw.Recv(time.Second)
	if err != nil {
		return nil
	}
	return m
}

func nrc(sid byte, code uds.NRC) []byte { return []byte{0x7F, sid, byte(code)} }

// enter moves to session s through the extended session.
func (b *bench) enter(s uds.Session) {
	GinkgoHelper()
	_, _, err := b.client.StartSession(uds.ExtendedSession)
	Expect(err).NotTo(HaveOccurred())
	if s == uds.ProgrammingSession {
		_, _, err = b.client.StartSession(uds.ProgrammingSession)
		Expect(err).NotTo(HaveOccurred())
	}
}

// put downloads data to path with blocks of at most blk data bytes.
func (b *bench) put(path string, data []byte, blk int) {
	GinkgoHelper()
	_, err := b.client.FileTransfer(uds.FileRequest{Mode: uds.ReplaceFile, Path: path, Size: uint64(len(data)), CompressedSize: uint64(len(data))})
	Expect(err).NotTo(HaveOccurred())
	bsc := byte(1)
	for off := 0; off < len(data); off += blk {
		_, err := b.client.TransferData(bsc, data[off:min(off+blk, len(data))])
		Expect(err).NotTo(HaveOccurred(), fmt.Sprintf("block at %d", off))
		bsc++
	}
	Expect(b.client.TransferExit()).To(Succeed())
}

func dl(path string, size int) uds.FileRequest {
	return uds.FileRequest{Mode: uds.ReplaceFile, Path: path, Size: uint64(size), CompressedSize: uint64(size)}
}
