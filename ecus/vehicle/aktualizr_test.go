package vehicle_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/internal/aktualizr"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// needAktualizr skips the spec, saying why, when aktualizr-secondary is not
// built (fails it when UPTANE_HIL_REQUIRE_AKTUALIZR=1, as make test sets).
func needAktualizr() {
	GinkgoHelper()
	if _, err := aktualizr.Binary(); err != nil {
		if aktualizr.Required() {
			Fail(err.Error() + " and " + aktualizr.EnvRequire + "=1")
		}
		Skip("SKIPPED, not passed: " + err.Error())
	}
}

// aktualizrRig is rigs/aktualizr.yaml on free ports, with verification
// ver, plus OURS-0001: one of our Secondaries reached over aktualizr-ip too.
func aktualizrRig(ver string, keyType ...string) *rigs.Rig {
	GinkgoHelper()
	b, err := os.ReadFile("../../rigs/aktualizr.yaml")
	Expect(err).NotTo(HaveOccurred())
	p1, err := aktualizr.FreePort()
	Expect(err).NotTo(HaveOccurred())
	p2, err := aktualizr.FreePort()
	Expect(err).NotTo(HaveOccurred())
	s := strings.Replace(string(b), "127.0.0.1:9061", fmt.Sprintf("127.0.0.1:%d", p1), 1)
	s = strings.Replace(s, "verification: full", "verification: "+ver, 1)
	if len(keyType) > 0 {
		s = strings.Replace(s, "key_type: ED25519", "key_type: "+keyType[0], 1)
	}
	s += fmt.Sprintf(`  - id: OURS-0001
    hardware_id: ours-hw
    role: secondary
    protocol: aktualizr-ip
    address: 127.0.0.1:%d
`, p2)
	r, err := rigs.Parse("aktualizr.yaml", []byte(s))
	Expect(err).NotTo(HaveOccurred())
	return r
}

func buildAktualizr(r *rigs.Rig) *vehicle.Vehicle {
	GinkgoHelper()
	v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: GinkgoT().TempDir(), Clock: clock.NewWall(), Reach: vehicle.ByRig})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(v.Close)
	return v
}

// expectRecorded checks that the Director recorded release rc of ECU id's
// hardware from the ECU's signed report, and that the verdict agrees.
func expectRecorded(v *vehicle.Vehicle, rep *primary.CycleReport, id string, rc uint64) {
	GinkgoHelper()
	s := v.Secondary(id)
	want := vehicle.ImageName(s.Rig.HardwareID, rc)
	inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
	Expect(err).NotTo(HaveOccurred())
	Expect(inst).To(HaveKey(id))
	Expect(inst[id].Filename).To(Equal(want))
	img := v.ImageBytes(s.Rig.HardwareID, rc, s.Rig.ImageSize)
	h := sha256.Sum256(img)
	Expect(inst[id].Length).To(Equal(int64(len(img))))
	Expect([]byte(inst[id].Hashes["sha256"])).To(Equal(h[:]))
	verdict := vehicle.Judge(rep, v.Primary.Director())
	for _, e := range verdict.ECUs {
		if e.ECU == id {
			Expect(e.OnAssigned).To(BeTrue(), "%s: %+v", id, e)
		}
	}
}

var _ = Describe("a campaign on a vehicle with the real aktualizr-secondary", Label("aktualizr"), func() {
	DescribeTable("updates aktualizr-secondary over aktualizr-ip, ours over aktualizr-ip and ours over UDS on CAN in one campaign; the Director records each from its signed report",
		func(ver, keyType string) {
			needAktualizr()
			v := buildAktualizr(aktualizrRig(ver, keyType))
			p := v.AktualizrProcess("AKT-0001")
			Expect(p).NotTo(BeNil())
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ManifestErr).NotTo(HaveOccurred())
			for _, id := range []string{"AKT-0001", "OURS-0001", "ECM-0001"} {
				Expect(rep.ECUs[id].Status).To(Equal(primary.Installed), "%s: %v", id, rep.ECUs[id].Err)
				expectRecorded(v, rep, id, 2)
			}
			// aktualizr-secondary holds exactly the image in its firmware file.
			Expect(os.ReadFile(filepath.Join(p.Opts.Dir, "firmware.txt"))).To(Equal(v.ImageBytes("akt-hw", 2, 16<<10)))
			inst, err := v.Installed("OURS-0001")
			Expect(err).NotTo(HaveOccurred())
			Expect(inst).To(Equal(vehicle.Installed{Release: 2, Name: vehicle.ImageName("ours-hw", 2), Genuine: true}))

			// A second cycle with nothing new: every ECU up to date, the
			// Director still records release 2.
			rep, err = v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			for _, id := range []string{"AKT-0001", "OURS-0001"} {
				Expect(rep.ECUs[id].Status).To(BeElementOf(primary.UpToDate, primary.Installed), "%s: %v", id, rep.ECUs[id].Err)
				expectRecorded(v, rep, id, 2)
			}
		},
		Entry("verification_type Full", "full", "ED25519"),
		Entry("verification_type Tuf", "tuf", "ED25519"),
		Entry("verification_type Full, an RSA-2048 key (RSA-PSS signed manifests)", "full", "RSA2048"),
	)

	It("pins Tuf verification's own choice of image (finding): with a newer release in the Image repository that the Director does not assign, aktualizr-secondary expects that one and refuses the image the Director assigns", func() {
		needAktualizr()
		v := buildAktualizr(aktualizrRig("tuf"))
		rep, err := v.Campaign(2, "AKT-0001")
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["AKT-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["AKT-0001"].Err)
		// Release 3 is published in the Image repository, not assigned.
		Expect(v.Image.AddImage(vehicle.ImageName("akt-hw", 3), v.ImageBytes("akt-hw", 3, 16<<10), []string{"akt-hw"}, 3)).To(Succeed())
		Expect(v.Image.Publish()).To(Succeed())
		rep = v.Cycle()
		o := rep.ECUs["AKT-0001"]
		Expect(o.Status).To(Equal(primary.Failed))
		Expect(o.Err).To(MatchError(ContainSubstring("hash does not match")))
		// It stays on release 2, and says so in its signed manifest.
		inst, err := v.Director.Installed(v.Rig.Vehicle.VIN)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst["AKT-0001"].Filename).To(Equal(vehicle.ImageName("akt-hw", 2)))
		Expect(os.ReadFile(filepath.Join(v.AktualizrProcess("AKT-0001").Opts.Dir, "firmware.txt"))).To(Equal(v.ImageBytes("akt-hw", 2, 16<<10)))
	})

	It("survives aktualizr-secondary dying mid-transfer (the campaign reports it, the others go on) and pins what the restarted aktualizr-secondary does: it crashes on the next image (finding); without its partial image it installs", func() {
		needAktualizr()
		v := buildAktualizr(aktualizrRig("full"))
		c := v.Secondary("AKT-0001").Link.(interface{ Client() *ip.Client }).Client()
		chunks := 0
		c.Observe = func(dir string, m ip.Message) {
			if dir == "tx" && m.Kind() == ip.KindUploadDataReq {
				if chunks++; chunks == 5 {
					v.AktualizrProcess("AKT-0001").Kill() // a power cut after 4 KiB of 16
				}
			}
		}
		rep, err := v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["AKT-0001"].Status).NotTo(Equal(primary.Installed))
		Expect(rep.ECUs["AKT-0001"].Err).To(MatchError(ContainSubstring("uploadDataReq")))
		Expect(rep.ECUs["ECM-0001"].Status).To(Equal(primary.Installed))
		Expect(rep.ECUs["OURS-0001"].Status).To(Equal(primary.Installed))
		// No report from the dead ECU: the Director refuses the manifest
		// (drop-request defence), so it records nothing of this cycle.
		Expect(rep.ManifestErr).To(MatchError(ContainSubstring(check.DirectorRepositoryAllECUsReported.String() + " (drop-request) director on AKT-0001")))
		c.Observe = nil

		// Finding: restarted, it takes the metadata, then dies on the first
		// image chunk. It appends to the 4 KiB it kept (firmware.txt.newtarget)
		// and updates a SHA-256 hasher it only creates for an empty file: the
		// hasher lived in RAM and is gone. Every later attempt ends the same.
		partial := filepath.Join(v.AktualizrProcess("AKT-0001").Opts.Dir, "firmware.txt.newtarget")
		Expect(os.Stat(partial)).To(HaveField("Size()", int64(4096)))
		Expect(v.RestartAktualizr("AKT-0001")).To(Succeed())
		p := v.AktualizrProcess("AKT-0001")
		rep, err = v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["AKT-0001"].Status).NotTo(Equal(primary.Installed))
		Eventually(p.Done()).Should(BeClosed(), "aktualizr-secondary exited")
		Expect(p.ExitErr()).To(MatchError(ContainSubstring("segmentation fault")))
		Expect(os.Stat(partial)).To(HaveField("Size()", int64(5120)), "the chunk went onto the partial image before the crash")
		Expect(rep.ECUs["ECM-0001"].Status).To(Equal(primary.UpToDate))

		// Without the partial image (what an operator has to remove by hand:
		// nothing in the protocol can), it installs and the Director records it.
		Expect(os.Remove(partial)).To(Succeed())
		Expect(v.RestartAktualizr("AKT-0001")).To(Succeed())
		rep, err = v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["AKT-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["AKT-0001"].Err)
		Expect(rep.ManifestErr).NotTo(HaveOccurred())
		expectRecorded(v, rep, "AKT-0001", 2)
	})
})

var _ = Describe("our Secondary over aktualizr-ip (no aktualizr needed)", func() {
	It("one Primary updates a Secondary over aktualizr-ip on TCP, one over aktualizr-ip on ISO-TP and the others over UDS on CAN in one campaign, under the simulated clock; the Director records each", func() {
		b, err := os.ReadFile("../../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		port, err := aktualizr.FreePort()
		Expect(err).NotTo(HaveOccurred())
		y := string(b) + fmt.Sprintf(`  - id: OURS-0001
    hardware_id: ours-hw
    role: secondary
    protocol: aktualizr-ip
    address: 127.0.0.1:%d
  - id: OURS-CAN-0001        # the same DER messages over ISO-TP on CAN FD
    hardware_id: ours-can-hw
    role: secondary
    protocol: aktualizr-ip
    bus: body
    isotp: {request: 0x6F0, response: 0x6F8, fd: true}
`, port)
		r, err := rigs.Parse("virtual-ip.yaml", []byte(y))
		Expect(err).NotTo(HaveOccurred())
		within(func(sim *clock.Sim) {
			v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: GinkgoT().TempDir(), Clock: sim, Reach: vehicle.ByRig})
			Expect(err).NotTo(HaveOccurred())
			defer v.Close()
			longest := 0
			v.Secondary("OURS-CAN-0001").Link.(interface{ Client() *ip.Client }).Client().Observe = func(dir string, m ip.Message) {
				if m.Kind() == ip.KindPutMetaReq2 {
					longest = max(longest, len(ip.Encode(m)))
				}
			}
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ManifestErr).NotTo(HaveOccurred())
			for _, s := range v.Secondaries {
				Expect(rep.ECUs[s.Rig.ID].Status).To(Equal(primary.Installed), "%s: %v", s.Rig.ID, rep.ECUs[s.Rig.ID].Err)
				inst, err := v.Installed(s.Rig.ID)
				Expect(err).NotTo(HaveOccurred())
				Expect(inst).To(Equal(vehicle.Installed{Release: 2, Name: vehicle.ImageName(s.Rig.HardwareID, 2), Genuine: true}))
				expectRecorded(v, rep, s.Rig.ID, 2)
			}
			Expect(longest).To(BeNumerically(">", 4095), "putMetaReq2 went as one long ISO-TP PDU (FF_DL escape)")
			// Nothing new: verified, and answered alreadyProcessed.
			rep, err = v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.ECUs["OURS-0001"].Status).To(Equal(primary.UpToDate), "%v", rep.ECUs["OURS-0001"].Err)
			Expect(rep.ECUs["OURS-CAN-0001"].Status).To(Equal(primary.UpToDate), "%v", rep.ECUs["OURS-CAN-0001"].Err)
			Expect(rep.ManifestErr).NotTo(HaveOccurred())
		})
	})
})

var _ = Describe("our Secondary's aktualizr-ip server given bad input", func() {
	It("answers out-of-order and forged requests with a result, drops garbage, keeps its trusted state, and still serves the next campaign", func() {
		b, err := os.ReadFile("../../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		port, err := aktualizr.FreePort()
		Expect(err).NotTo(HaveOccurred())
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		r, err := rigs.Parse("virtual-ip.yaml", []byte(string(b)+fmt.Sprintf("  - {id: OURS-0001, hardware_id: ours-hw, role: secondary, protocol: aktualizr-ip, address: %q}\n", addr)))
		Expect(err).NotTo(HaveOccurred())
		v, err := vehicle.Build(vehicle.Options{Rig: r, Dir: GinkgoT().TempDir(), Clock: clock.NewWall(), Reach: vehicle.ByRig})
		Expect(err).NotTo(HaveOccurred())
		defer v.Close()
		ecu := v.Secondary("OURS-0001").ECU
		roots := []int64{ecu.RootVersion("director"), ecu.RootVersion("image")}
		c := &ip.Client{Dial: ip.TCP(addr, 0), Chunk: 512}
		defer c.Close()

		// An image before any verified metadata: refused, nothing kept.
		var re *ip.ResultError
		err = c.Upload(make([]byte, 100), nil)
		Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
		Expect(re.Code).To(Equal(ip.ResultGeneralError))
		// Metadata that is not signed by the repositories: validationFailed,
		// naming the check; the trusted Roots stay.
		forged := []byte(`{"signed":{"_type":"root","version":2,"expires":"2099-01-01T00:00:00Z","keys":{},"roles":{},"consistent_snapshot":true,"spec_version":"1.0.31"},"signatures":[]}`)
		err = c.PutMeta([]ip.MetaJSON{{Role: "2.root.json", JSON: forged}}, []ip.MetaJSON{{Role: "2.root.json", JSON: forged}})
		Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
		Expect(re.Code).To(Equal(ip.ResultValidationFailed))
		Expect(re.Description).To(ContainSubstring("check_root"))
		Expect([]int64{ecu.RootVersion("director"), ecu.RootVersion("image")}).To(Equal(roots))
		// Garbage: the connection is dropped without an answer.
		_, err = c.Call(&ip.SendFirmwareRequest{Firmware: []byte("v1 firmware")}, ip.KindSendFirmwareResp)
		Expect(err).To(MatchError(ContainSubstring("closed the connection without an answer")))
		inst, err := v.Installed("OURS-0001")
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.Release).To(Equal(uint64(1)))

		rep, err := v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["OURS-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["OURS-0001"].Err)
		expectRecorded(v, rep, "OURS-0001", 2)
	})
})
