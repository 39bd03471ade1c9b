package pouf_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// fakeSecondary speaks the POUF as a Secondary would, without Uptane
// verification: routines return what the spec sets.
type fakeSecondary struct {
	uds.BaseHandler
	clk          clock.Clock
	verification string
	nonce        []byte
	time         time.Time
	files        map[string][]byte
	partial      map[string][]byte
	modes        []uds.FileMode
	writes       int
	installTime  time.Duration
	installed    string
	verifyErr    error
	report       []byte
	resets       int
}

func newSecondary(clk clock.Clock, verification string) *fakeSecondary {
	return &fakeSecondary{clk: clk, verification: verification, files: map[string][]byte{}, partial: map[string][]byte{}, installTime: 30 * time.Second}
}

func (s *fakeSecondary) ReadDID(did uint16) ([]byte, error) {
	switch did {
	case pouf.DIDECUSerial:
		return []byte("brake-1"), nil
	case pouf.DIDHardwareNumber:
		return []byte("hw-brake"), nil
	case pouf.DIDVIN:
		return []byte("BENCH000000000001"), nil
	case pouf.DIDVerification:
		return pouf.EncodeVerification(s.verification)
	case pouf.DIDSigningKey:
		return pouf.EncodeKey(&metadata.Key{Type: "ed25519", Scheme: "ed25519", Value: metadata.KeyVal{PublicKey: "0a0b"}})
	case pouf.DIDEncryptionKey:
		if s.verification == "partial" {
			return nil, uds.Refuse(uds.RequestOutOfRange, "no encryption key")
		}
		return bytes.Repeat([]byte{7}, 32), nil
	case pouf.DIDMaxImage:
		return pouf.EncodeSize(1 << 20), nil
	case pouf.DIDMaxMetadata:
		return pouf.EncodeSize(64 << 10), nil
	case pouf.DIDVersionReport:
		if s.report == nil {
			return nil, uds.Refuse(uds.ConditionsNotCorrect, "no report created")
		}
		return s.report, nil
	case pouf.DIDTime:
		return pouf.EncodeTime(s.time), nil
	}
	return s.BaseHandler.ReadDID(did)
}

func (s *fakeSecondary) WriteDID(did uint16, data []byte) error {
	switch did {
	case pouf.DIDNonce:
		if err := pouf.ValidNonce(data); err != nil {
			return uds.Refuse(uds.RequestOutOfRange, "%v", err)
		}
		s.nonce = data
		return nil
	case pouf.DIDTime:
		t, err := pouf.ParseTime(data)
		if err != nil {
			return uds.Refuse(uds.RequestOutOfRange, "%v", err)
		}
		s.time = t
		return nil
	}
	return s.BaseHandler.WriteDID(did, data)
}

func (s *fakeSecondary) Routine(id uint16, ctl uds.RoutineControlType, _ []byte) ([]byte, error) {
	r := pouf.Result{Status: pouf.Passed}
	switch id {
	case pouf.RoutineVerifyMetadata:
		if s.verifyErr != nil {
			r = pouf.FailedResult(s.verifyErr)
		} else {
			r.Data = []byte{1}
		}
	case pouf.RoutineVerifyImage:
		if _, ok := s.files["image/brake.bin"]; !ok {
			r = pouf.FailedResult(errors.New("no image received"))
		}
	case pouf.RoutineInstall:
		s.clk.Sleep(s.installTime)
		s.installed = "brake.bin"
	case pouf.RoutineVersionReport:
		s.report, _ = json.Marshal(map[string]string{"ecu": "brake-1", "nonce": hex.EncodeToString(s.nonce), "installed": s.installed})
	case pouf.RoutineAbort:
		s.files = map[string][]byte{}
	default:
		return s.BaseHandler.Routine(id, ctl, nil)
	}
	return r.Encode()
}

type secSink struct {
	s    *fakeSecondary
	path string
	buf  []byte
	off  uint64
}

func (k *secSink) Offset() uint64 { return k.off }
func (k *secSink) Write(p []byte) error {
	k.s.writes++
	k.buf = append(k.buf, p...)
	return nil
}
func (k *secSink) Commit() error {
	k.s.files[k.path] = k.buf
	delete(k.s.partial, k.path)
	return nil
}
func (k *secSink) Abort(resumable bool) {
	if resumable {
		k.s.partial[k.path] = k.buf
	}
}

func (s *fakeSecondary) StartDownload(r uds.FileRequest) (uds.FileSink, error) {
	p, err := pouf.ParsePath(r.Path)
	if err != nil {
		return nil, uds.Refuse(uds.RequestOutOfRange, "%v", err)
	}
	if !p.IsImage() && p.Repo == "image" && s.verification == "partial" {
		return nil, uds.Refuse(uds.RequestOutOfRange, "a partial-verification ECU takes no Image repository metadata")
	}
	s.modes = append(s.modes, r.Mode)
	k := &secSink{s: s, path: r.Path}
	if r.Mode == uds.ResumeFile {
		k.buf = append([]byte(nil), s.partial[r.Path]...)
		k.off = uint64(len(k.buf))
	}
	return k, nil
}

func (s *fakeSecondary) Reset(uds.ResetType) { s.resets++ }

// lossy drops messages on the tester's side of the bus: every message
// while the bus is cut, and responses the spec picks.
type lossy struct {
	uds.Transport
	clk       clock.Clock
	cutFrom   time.Time
	cutFor    time.Duration
	dropResp  func(req, resp []byte) bool
	last      []byte
	cutOnSend func(req []byte) bool
	sent      [][]byte
}

func (l *lossy) cut() bool {
	now := l.clk.Now()
	return !l.cutFrom.IsZero() && !now.Before(l.cutFrom) && now.Before(l.cutFrom.Add(l.cutFor))
}

func (l *lossy) Send(m []byte) error {
	if l.cutOnSend != nil && l.cutFrom.IsZero() && l.cutOnSend(m) {
		l.cutFrom = l.clk.Now()
	}
	if l.cut() {
		return nil
	}
	l.last = append([]byte(nil), m...)
	l.sent = append(l.sent, l.last)
	return l.Transport.Send(m)
}

func (l *lossy) Recv(timeout time.Duration) ([]byte, error) {
	for {
		m, err := l.Transport.Recv(timeout)
		if err != nil || l.dropResp == nil || !l.dropResp(l.last, m) {
			return m, err
		}
	}
}

type rig struct {
	sim    *clock.Sim
	ecu    *fakeSecondary
	bus    *lossy
	client *pouf.Client
	srv    *uds.Server
}

func onRig(verification string, body func(r *rig)) *rig {
	GinkgoHelper()
	r := &rig{sim: clock.NewSim(time.Time{})}
	r.sim.SetHorizon(time.Hour)
	r.ecu = newSecondary(r.sim, verification)
	tester, ecuEnd := uds.Pipe(r.sim)
	r.bus = &lossy{Transport: tester, clk: r.sim}
	r.srv = uds.NewServer(ecuEnd, r.sim, r.ecu, uds.ServerConfig{Name: "brake-1", MaxBlockLength: 1026})
	r.client = pouf.NewClient(uds.NewClient(r.bus, r.sim, uds.ClientConfig{}), "brake-1")
	Expect(r.sim.Run("primary", func() {
		r.sim.Go("brake-1", func() { _ = r.srv.Serve() })
		body(r)
		tester.Close()
	})).To(Succeed())
	return r
}

func blob(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	return b
}

var directorFiles = map[string][]byte{"2.root.json": blob(900), "timestamp.json": blob(300), "4.snapshot.json": blob(400), "5.targets.json": blob(2500)}

var _ = Describe("pouf.Client against a Secondary over UDS", func() {
	It("runs a whole update cycle with a full-verification Secondary", Label("std:create_version_report#1", "std:create_version_report#2", "std:download_image#2", "std:download_image#4", "std:full_verification#2", "std:in_vehicle#8", "std:metadata_verification#2", "std:send_metadata_primary#1", "std:send_time_primary#1"), func() {
		image := blob(10_000)
		var progress []int64
		r := onRig("full", func(r *rig) {
			c := r.client
			id, err := c.ReadIdentity()
			Expect(err).NotTo(HaveOccurred())
			Expect(id.ID).To(Equal("brake-1"))
			Expect(id.HardwareID).To(Equal("hw-brake"))
			Expect(id.VIN).To(Equal("BENCH000000000001"))
			Expect(id.Verification).To(Equal("full"))
			Expect(id.Key.Value.PublicKey).To(Equal("0a0b"))
			Expect(id.EncryptionKey).To(HaveLen(32))
			Expect(id.MaxImage).To(Equal(uint32(1 << 20)))

			// the report for the vehicle manifest carries the nonce just written
			Expect(c.WriteNonce([]byte{0xAA, 0xBB})).To(Succeed())
			rep, err := c.ReadVersionReport()
			Expect(err).NotTo(HaveOccurred())
			Expect(string(rep)).To(ContainSubstring(`"nonce":"aabb"`))

			at := clock.Epoch.Add(48 * time.Hour)
			Expect(c.WriteRawTime(at)).To(Succeed())
			for name, b := range directorFiles {
				Expect(c.PutMetadata("director", name, b, nil)).To(Succeed())
				Expect(c.PutMetadata("image", name, b, nil)).To(Succeed())
			}
			newImage, err := c.VerifyMetadata()
			Expect(err).NotTo(HaveOccurred())
			Expect(newImage).To(BeTrue())
			Expect(c.PutImage("brake.bin", image, func(done, total int64) { progress = append(progress, done) })).To(Succeed())
			Expect(c.VerifyImage()).To(Succeed())

			start := r.sim.Now()
			Expect(c.Install()).To(Succeed())
			Expect(r.sim.Since(start)).To(Equal(30 * time.Second))
			Expect(c.Reset()).To(Succeed())

			Expect(c.WriteNonce([]byte{0xCC})).To(Succeed())
			rep, err = c.ReadVersionReport()
			Expect(err).NotTo(HaveOccurred())
			Expect(string(rep)).To(ContainSubstring(`"installed":"brake.bin"`))
			Expect(string(rep)).To(ContainSubstring(`"nonce":"cc"`))
			Expect(r.ecu.time).To(Equal(at))
		})
		Expect(r.ecu.files["image/brake.bin"]).To(Equal(image))
		Expect(r.ecu.files["meta/director/5.targets.json"]).To(Equal(directorFiles["5.targets.json"]))
		Expect(r.ecu.files).To(HaveKey("meta/image/2.root.json"))
		Expect(progress).To(Equal([]int64{1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192, 9216, 10000}))
		Expect(r.ecu.resets).To(Equal(1))
		// the install's minute of 0x78 did not end the session, and no request was repeated
		Expect(r.ecu.modes).NotTo(ContainElement(uds.ResumeFile))
	})
	It("runs a cycle with a partial-verification Secondary, which refuses Image repository metadata", Label("std:send_metadata_primary#1"), func() {
		onRig("partial", func(r *rig) {
			c := r.client
			id, err := c.ReadIdentity()
			Expect(err).NotTo(HaveOccurred())
			Expect(id.Verification).To(Equal("partial"))
			Expect(id.EncryptionKey).To(BeNil())
			Expect(c.WriteRawTime(clock.Epoch)).To(Succeed())
			Expect(c.PutMetadata("director", "5.targets.json", directorFiles["5.targets.json"], nil)).To(Succeed())
			err = c.PutMetadata("image", "5.targets.json", directorFiles["5.targets.json"], nil)
			Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(HavePrefix("pouf: brake-1: put meta/image/5.targets.json: uds: RequestFileTransfer (0x38): requestOutOfRange (0x31)"))
			_, err = c.VerifyMetadata()
			Expect(err).NotTo(HaveOccurred())
		})
	})
	It("reports a failed check with its ID and attack, so check.As finds it", func() {
		onRig("full", func(r *rig) {
			r.ecu.verifyErr = check.Fail(check.TimestampExpiry, "director", "timestamp", "expired").OnECU("brake-1")
			_, err := r.client.VerifyMetadata()
			var re *pouf.RoutineError
			Expect(errors.As(err, &re)).To(BeTrue())
			Expect(re.Routine).To(Equal(pouf.RoutineVerifyMetadata))
			ce, ok := check.As(err)
			Expect(ok).To(BeTrue())
			Expect(ce.Check).To(Equal(check.TimestampExpiry))
			Expect(ce.Attack).To(Equal(check.Freeze))
			Expect(ce.ECU).To(Equal("brake-1"))
			Expect(err.Error()).To(HavePrefix("pouf: brake-1: verify metadata (0xFF10) failed: check_timestamp.expiry (freeze): "))

			err = r.client.VerifyImage()
			Expect(errors.As(err, &re)).To(BeTrue())
			_, ok = check.As(err)
			Expect(ok).To(BeFalse(), "a failure that is not a check names none")
		})
	})
	It("resends a block whose response was lost; the ECU writes it once", func() {
		image := blob(5000)
		r := onRig("full", func(r *rig) {
			dropped := 0
			r.bus.dropResp = func(req, resp []byte) bool {
				if len(req) > 1 && req[0] == 0x36 && req[1] == 3 && dropped < 2 {
					dropped++
					return true
				}
				return false
			}
			Expect(r.client.PutImage("brake.bin", image, nil)).To(Succeed())
			Expect(dropped).To(Equal(2))
		})
		Expect(r.ecu.files["image/brake.bin"]).To(Equal(image))
		Expect(r.ecu.writes).To(Equal(5))
		Expect(r.ecu.modes).To(Equal([]uds.FileMode{uds.ReplaceFile}))
	})
	It("resumes a transfer cut by a bus outage longer than S3 from where the ECU stopped", func() {
		image := blob(8000)
		r := onRig("full", func(r *rig) {
			r.bus.cutFor = 7 * time.Second
			r.bus.cutOnSend = func(req []byte) bool { return len(req) > 1 && req[0] == 0x36 && req[1] == 4 }
			Expect(r.client.PutImage("brake.bin", image, nil)).To(Succeed())
		})
		Expect(r.ecu.files["image/brake.bin"]).To(Equal(image))
		Expect(r.ecu.modes).To(Equal([]uds.FileMode{uds.ReplaceFile, uds.ResumeFile}))
		Expect(r.ecu.writes).To(Equal(8), "blocks 1-3 before the cut, 5 after the resume at 3072")
		var resumes [][]byte
		for _, m := range r.bus.sent {
			if m[0] == 0x38 && m[1] == byte(uds.ResumeFile) {
				resumes = append(resumes, m)
			}
		}
		Expect(resumes).To(HaveLen(1))
	})
	It("enters the session again after the ECU fell back to the default session", func() {
		onRig("full", func(r *rig) {
			Expect(r.client.WriteRawTime(clock.Epoch)).To(Succeed())
			r.sim.Sleep(pouf.S3 + time.Second)
			Expect(r.client.WriteRawTime(clock.Epoch.Add(time.Hour))).To(Succeed())
			Expect(r.srv.Session()).To(Equal(uds.ExtendedSession))
			Expect(r.client.WriteNonce(nil)).NotTo(Succeed())
		})
	})
	It("refuses a path outside the namespace before sending anything", func() {
		onRig("full", func(r *rig) {
			Expect(r.client.PutMetadata("director", "../x.json", []byte("{}"), nil)).NotTo(Succeed())
			Expect(r.client.PutImage("../../boot", []byte{1}, nil)).NotTo(Succeed())
			Expect(r.bus.sent).To(BeEmpty())
		})
	})
})
