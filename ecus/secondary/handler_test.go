package secondary_test

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// The Secondary's side of the in-vehicle protocol (Handler, docs/pouf.md),
// each Secondary of rigs/virtual.yaml served on an in-memory UDS pipe (no
// ISO-TP, no CAN) and driven by the Primary or by a pouf client as the
// Primary would, each spec named after the Standard's step of the
// Secondary it proves ({#secondary}).

// maxFile is the largest file the Secondaries' UDS servers take here
// (pouf.transfer_size); the images of the rig are smaller.
const maxFile = 1 << 20

type pipeBench struct {
	sim     *clock.Sim
	proxy   *mitm.Proxy // on the Primary's repository link
	v       *vehicle.Vehicle
	clients map[string]*pouf.Client
	// driving makes the programming preconditions of every Secondary
	// unmet (as VehicleSpeed > 0 on its bus would).
	driving bool
}

// onPipes builds the vehicle with every Secondary on a UDS pipe and runs
// body as the root actor of a fresh simulated clock.
func onPipes(o vehicle.Options, body func(b *pipeBench)) {
	GinkgoHelper()
	b := &pipeBench{sim: clock.NewSim(time.Time{}), clients: map[string]*pouf.Client{}}
	b.sim.SetHorizon(365 * 24 * time.Hour)
	r, err := rigs.Load("../../rigs/virtual.yaml")
	Expect(err).NotTo(HaveOccurred())
	o.Rig, o.Clock, o.Dir = r, b.sim, GinkgoT().TempDir()
	o.Transport = func(backend http.RoundTripper) http.RoundTripper {
		b.proxy = mitm.New(backend, b.sim)
		return b.proxy
	}
	o.Reach = vehicle.Everywhere(vehicle.Custom{Link: func(v *vehicle.Vehicle, s *vehicle.Secondary) (link.Secondary, error) {
		tester, ecuEnd := uds.Pipe(b.sim)
		h := secondary.NewHandler(s.ECU, v.Rig.Vehicle.VIN)
		cfg := secondary.ServerLimits(uds.ServerConfig{Name: s.Rig.ID, MaxFileSize: maxFile}, s.Config.Profile,
			func(ce *check.Error) { h.ECU().RecordAttack(ce) })
		cfg = secondary.ServerPreconditions(cfg, s.Config.Profile, func() error {
			if b.driving {
				return errors.New("conditions not met: VehicleSpeed is 50 km/h (want VehicleSpeed <= 0)")
			}
			return nil
		})
		h.SetConditions(cfg.Preconditions)
		srv := uds.NewServer(ecuEnd, b.sim, h, cfg)
		b.sim.Go(s.Rig.ID+" UDS server", func() { _ = srv.Serve() })
		c := pouf.NewClient(uds.NewClient(tester, b.sim, uds.ClientConfig{}), s.Rig.ID)
		b.clients[s.Rig.ID] = c
		return &link.Pouf{C: c}, nil
	}})
	Expect(b.sim.Run("spec", func() {
		b.v, err = vehicle.Build(o)
		Expect(err).NotTo(HaveOccurred())
		defer b.v.Close()
		body(b)
	})).To(Succeed())
}

var _ = Describe("the Secondary's UDS handler on an in-memory pipe", func() {
	It("says who it is (ReadDataByIdentifier): serial, hardware, VIN, verification and its signing key", func() {
		onPipes(vehicle.Options{}, func(b *pipeBench) {
			for _, s := range b.v.Secondaries {
				id, err := b.clients[s.Rig.ID].ReadIdentity()
				Expect(err).NotTo(HaveOccurred())
				Expect(id.ID).To(Equal(s.Rig.ID))
				Expect(id.HardwareID).To(Equal(s.Rig.HardwareID))
				Expect(id.VIN).To(Equal(b.v.Rig.Vehicle.VIN))
				Expect(id.Verification).To(Equal(s.Rig.Profile))
				got, err := keys.ID(id.Key)
				Expect(err).NotTo(HaveOccurred())
				want, _ := keys.ID(s.ECU.PublicKey())
				Expect(got).To(Equal(want))
				Expect(id.EncryptionKey != nil).To(Equal(s.Rig.Encrypted), "an encryption key exactly when its images are encrypted")
			}
		})
	})

	It("create_version_report: the report carries the nonce the Primary just wrote, a counter that goes up, and the ECU's signature", func() {
		onPipes(vehicle.Options{}, func(b *pipeBench) {
			s := b.v.Secondary("ECM-0001")
			c := b.clients[s.Rig.ID]
			var last uint64
			for _, nonce := range [][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)} {
				Expect(c.WriteNonce(nonce)).To(Succeed())
				raw, err := c.ReadVersionReport()
				Expect(err).NotTo(HaveOccurred())
				sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
				Expect(err).NotTo(HaveOccurred())
				Expect(sr.Verify(s.ECU.PublicKey())).To(Succeed())
				Expect(sr.Signed.ECUSerial).To(Equal(s.Rig.ID))
				Expect([]byte(sr.Signed.Nonce)).To(Equal(nonce))
				Expect(sr.Signed.Counter).To(BeNumerically(">", last))
				last = sr.Signed.Counter
				Expect(sr.Signed.Installed.Filename).To(Equal(vehicle.ImageName(s.Rig.HardwareID, 1)))
			}
		})
	})

	It("create_version_report: a check that keeps firing (the rate limit under a flood, once a second) is one entry until the next nonce, so the report stays one UDS answer", func() {
		onPipes(vehicle.Options{}, func(b *pipeBench) {
			s := b.v.Secondary("BRK-0001")
			c := b.clients[s.Rig.ID]
			Expect(c.WriteNonce(bytes.Repeat([]byte{3}, 16))).To(Succeed())
			for i := 0; i < 2*manifest.MaxAttacks; i++ {
				s.ECU.RecordAttack(check.Fail(check.PoufRateLimit, "", "", "more than %d requests in 1s (burst %d); answering busyRepeatRequest, window %d", uds.DefaultRateLimit, vehicle.RateBurst, i))
			}
			s.ECU.RecordAttack(check.Fail(check.PoufTransferSize, "", "", "a download larger than announced"))
			raw, err := c.ReadVersionReport()
			Expect(err).NotTo(HaveOccurred(), "the report fits the ECU's answer")
			sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
			Expect(err).NotTo(HaveOccurred())
			var got []check.ID
			for _, a := range sr.Signed.Attacks {
				got = append(got, a.Check)
			}
			Expect(got).To(Equal([]check.ID{check.PoufRateLimit, check.PoufTransferSize}))
			Expect(sr.Signed.Attacks[0].Detail).To(ContainSubstring("window 0"), "the first time it fired")
			// reported once: the next nonce forgets them
			Expect(c.WriteNonce(bytes.Repeat([]byte{4}, 16))).To(Succeed())
			raw, err = c.ReadVersionReport()
			Expect(err).NotTo(HaveOccurred())
			sr, err = manifest.ParseReport(raw, manifest.MaxReportSize)
			Expect(err).NotTo(HaveOccurred())
			Expect(sr.Signed.Attacks).To(BeEmpty())
		})
	})

	It("create_version_report: a flood that goes on after the next nonce is reported again in that cycle, at its first busy answer (the server tells every hit, the ECU keeps one per nonce)", func() {
		onPipes(vehicle.Options{}, func(b *pipeBench) {
			s := b.v.Secondary("BRK-0001")
			c := b.clients[s.Rig.ID]
			// the flooder's own line to the ECU's diagnostic server,
			// with the ECU's limits: 200 requests a second
			flooder, ecuEnd := uds.Pipe(b.sim)
			cfg := secondary.ServerLimits(uds.ServerConfig{Name: s.Rig.ID}, s.Config.Profile, s.ECU.RecordAttack)
			srv := uds.NewServer(ecuEnd, b.sim, secondary.NewHandler(s.ECU, b.v.Rig.Vehicle.VIN), cfg)
			b.sim.Go("flooded server", func() { _ = srv.Serve() })
			defer flooder.Close()
			ask := func() []byte {
				GinkgoHelper()
				Expect(flooder.Send([]byte{0x3E, 0x00})).To(Succeed())
				resp, err := flooder.Recv(time.Second)
				Expect(err).NotTo(HaveOccurred())
				return resp
			}
			reported := func() []check.ID {
				GinkgoHelper()
				raw, err := c.ReadVersionReport()
				Expect(err).NotTo(HaveOccurred())
				sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
				Expect(err).NotTo(HaveOccurred())
				var got []check.ID
				for _, a := range sr.Signed.Attacks {
					got = append(got, a.Check)
				}
				return got
			}
			Expect(c.WriteNonce(bytes.Repeat([]byte{5}, 16))).To(Succeed())
			for range uds.DefaultRateLimit {
				Expect(ask()).To(Equal([]byte{0x7E, 0x00}))
			}
			Expect(ask()).To(Equal([]byte{0x7F, 0x3E, byte(uds.BusyRepeatRequest)}))
			Expect(reported()).To(Equal([]check.ID{check.PoufRateLimit}))
			// a new cycle within the same second of the flood: the
			// reported entry is forgotten, and the next busy answer
			// lists the check again
			Expect(c.WriteNonce(bytes.Repeat([]byte{6}, 16))).To(Succeed())
			Expect(ask()).To(Equal([]byte{0x7F, 0x3E, byte(uds.BusyRepeatRequest)}))
			Expect(reported()).To(Equal([]check.ID{check.PoufRateLimit}), "the flood of this cycle")
			for range 100 {
				ask()
			}
			Expect(reported()).To(Equal([]check.ID{check.PoufRateLimit}), "once, however many busy answers")
		})
	})

	It("verify_metadata, verify_image, install_image: driven by the Primary over the pipe, every Secondary (full and partial verification, encrypted or not) installs release 2", func() {
		onPipes(vehicle.Options{}, func(b *pipeBench) {
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			for _, s := range b.v.Secondaries {
				o := rep.ECUs[s.Rig.ID]
				Expect(o.Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, o.Err)
				inst, err := b.v.Installed(s.Rig.ID)
				Expect(err).NotTo(HaveOccurred())
				Expect(inst.Release).To(Equal(uint64(2)))
				Expect(inst.Genuine).To(BeTrue())
			}
		})
	})

	It("verify_image: an image that does not match the Director's metadata is refused by the Secondary itself (verify_image.hashes in the routine result), even when the Primary lets it through", func() {
		lax := check.Without(check.VerifyImageHashes)
		onPipes(vehicle.Options{Profiles: map[string]check.Profile{"TCU-0001": lax}}, func(b *pipeBench) {
			b.proxy.Add(&mitm.Rule{Name: "arbitrary software", Path: regexp.MustCompile(`/image/targets/ecm-v3/[0-9a-f]+\.firmware-r2\.bin$`),
				Action: mitm.Substitute{Body: b.v.ImageBytes("malicious", 0, b.v.Rig.ECU("ECM-0001").ImageSize)}})
			rep, err := b.v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			ecm := rep.ECUs["ECM-0001"]
			Expect(ecm.Status).To(Equal(primary.Failed))
			var re *pouf.RoutineError
			Expect(errors.As(ecm.Err, &re)).To(BeTrue(), "the Secondary's routine failed: %v", ecm.Err)
			Expect(re.Check).To(Equal(check.VerifyImageHashes))
			inst, err := b.v.Installed("ECM-0001")
			Expect(err).NotTo(HaveOccurred())
			Expect(inst.Release).To(Equal(uint64(1)))
			Expect(inst.Genuine).To(BeTrue())
			Expect(rep.ECUs["BRK-0001"].Status).To(Equal(primary.Installed))
		})
	})

	It("pouf.transfer_size: a download announced larger than the server takes is refused, and the next version report names the check", func() {
		onPipes(vehicle.Options{}, func(b *pipeBench) {
			c := b.clients["BRK-0001"]
			err := c.PutImage("brk-v2/firmware-r9.bin", make([]byte, maxFile+1), nil)
			Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue(), "%v", err)
			Expect(c.WriteNonce(bytes.Repeat([]byte{3}, 16))).To(Succeed())
			raw, err := c.ReadVersionReport()
			Expect(err).NotTo(HaveOccurred())
			sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
			Expect(err).NotTo(HaveOccurred())
			Expect(sr.Signed.Attacks).To(ContainElement(HaveField("Check", check.PoufTransferSize)))
		})
	})

	It("pouf.transfer_size off (a control profile): the same download is taken", func() {
		onPipes(vehicle.Options{Profiles: map[string]check.Profile{"BRK-0001": check.Without(check.PoufTransferSize)}}, func(b *pipeBench) {
			Expect(b.clients["BRK-0001"].PutImage("brk-v2/firmware-r9.bin", make([]byte, maxFile+1), nil)).To(Succeed())
		})
	})
})
