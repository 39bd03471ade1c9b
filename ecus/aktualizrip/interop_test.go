package aktualizrip_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/internal/aktualizr"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// requireBinary returns aktualizr-secondary's path, or skips the spec saying
// why (fails it when UPTANE_HIL_REQUIRE_AKTUALIZR=1, as make test sets).
func requireBinary() string {
	GinkgoHelper()
	bin, err := aktualizr.Binary()
	if err != nil {
		if aktualizr.Required() {
			Fail(err.Error() + " and " + aktualizr.EnvRequire + "=1")
		}
		Skip("SKIPPED, not passed: " + err.Error())
	}
	return bin
}

// startSecondary starts a fresh aktualizr-secondary (fresh identity) and
// stops it when the spec ends.
func startSecondary(bin, verification, serial, hwid string) *aktualizr.Process {
	GinkgoHelper()
	port, err := aktualizr.FreePort()
	Expect(err).NotTo(HaveOccurred())
	p, err := aktualizr.Start(aktualizr.Options{Bin: bin, Port: port, Dir: filepath.Join(GinkgoT().TempDir(), "sec"),
		Serial: serial, HardwareID: hwid, Verification: verification}, 20*time.Second)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Stop)
	return p
}

// backend is an Image repository and a Director on the wall clock (the
// Secondary judges expiry by its system clock).
type backend struct {
	im  *repo.Image
	d   *repo.Director
	vin string
}

func newBackend(images map[string][]byte, hwid string) *backend {
	GinkgoHelper()
	clk := clock.NewWall()
	im, err := repo.OpenImage(repo.ImageOptions{Clock: clk, Keys: repo.KeyConfig{Rand: seed.Seed(7).Reader("image-keys")}})
	Expect(err).NotTo(HaveOccurred())
	for name, data := range images {
		Expect(im.AddImage(name, data, []string{hwid}, 2)).To(Succeed())
	}
	Expect(im.Publish()).To(Succeed())
	d, err := repo.OpenDirector(repo.DirectorOptions{Dir: GinkgoT().TempDir(), Clock: clk, Images: im,
		Keys: repo.KeyConfig{Rand: seed.Seed(7).Reader("director-keys")}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(d.Close)
	return &backend{im: im, d: d, vin: "UPTHIL-AKT-1"}
}

// register puts the vehicle in the inventory: a Primary and the aktualizr
// Secondary with the key it announced in getInfoResp.
func (b *backend) register(info *ip.GetInfoResponse) *metadata.Key {
	GinkgoHelper()
	key, err := akdialect.KeyFromInfo(int64(info.KeyType), info.Key)
	Expect(err).NotTo(HaveOccurred())
	pk, err := keys.Generate(keys.Ed25519, seed.Seed(7).Reader("primary"))
	Expect(err).NotTo(HaveOccurred())
	Expect(b.d.AddVehicle(b.vin, repo.ECU{ID: "PRI-AKT", HardwareID: "pri-hw", Key: pk.Public(), Primary: true},
		repo.ECU{ID: info.ECUSerial, HardwareID: info.HardwareID, Key: key})).To(Succeed())
	return key
}

// collections is what aktualizr's Primary puts in putMetaReq2.
func (b *backend) collections(verification string) (image, director []ip.MetaJSON) {
	GinkgoHelper()
	is, err := akdialect.FromImage(b.im)
	Expect(err).NotTo(HaveOccurred())
	ds, err := akdialect.FromDirector(b.d, b.vin)
	Expect(err).NotTo(HaveOccurred())
	image = []ip.MetaJSON{{Role: "root", JSON: is.Root}, {Role: "timestamp", JSON: is.Timestamp}, {Role: "snapshot", JSON: is.Snapshot}, {Role: "targets", JSON: is.Targets}}
	if verification == aktualizr.Full {
		director = []ip.MetaJSON{{Role: "root", JSON: ds.Root}, {Role: "targets", JSON: ds.Targets}}
	}
	return image, director
}

var _ = Describe("our Primary's end against the real aktualizr-secondary", Label("aktualizr"), func() {
	DescribeTable("updates it as aktualizr's Primary would, and its signed manifest names the new image",
		func(verification string) {
			bin := requireBinary()
			p := startSecondary(bin, verification, "akt-ecu-1", "akt-hw")
			img := bytes.Repeat([]byte("aktualizr firmware v2 "), 3000)
			b := newBackend(map[string][]byte{"akt-fw-2.bin": img}, "akt-hw")
			c := &ip.Client{Dial: ip.TCP(p.Addr, 10*time.Second)}
			defer c.Close()

			info, err := c.GetInfo()
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ECUSerial).To(Equal("akt-ecu-1"))
			Expect(info.HardwareID).To(Equal("akt-hw"))
			Expect(info.KeyType).To(Equal(ip.KeyED25519))
			key := b.register(info)
			Expect(b.d.Assign(b.vin, "akt-ecu-1", "akt-fw-2.bin")).To(Succeed())

			Expect(c.Negotiate()).To(Equal(int64(2)))
			Expect(c.RootVersion(ip.RepoImage)).To(BeNumerically("<=", 0), "a fresh Secondary trusts no Root yet")
			image, director := b.collections(verification)
			Expect(c.PutMeta(image, director)).To(Succeed())
			Expect(c.RootVersion(ip.RepoImage)).To(Equal(int64(1)))
			Expect(c.Upload(img, nil)).To(Succeed())
			Expect(c.Install("akt-fw-2.bin")).To(Succeed())
			Expect(os.ReadFile(filepath.Join(p.Opts.Dir, "firmware.txt"))).To(Equal(img))

			raw, err := c.Manifest()
			Expect(err).NotTo(HaveOccurred())
			rep, err := akdialect.ParseReport(raw, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Verify(key)).To(Succeed())
			h := sha256.Sum256(img)
			Expect(rep.ECUSerial).To(Equal("akt-ecu-1"))
			Expect(rep.Installed.Filename).To(Equal("akt-fw-2.bin"))
			Expect(rep.Installed.Length).To(Equal(int64(len(img))))
			Expect([]byte(rep.Installed.Hashes["sha256"])).To(Equal(h[:]))
		},
		Entry("verification_type Full", aktualizr.Full),
		Entry("verification_type Tuf", aktualizr.Tuf),
	)
})

var _ = Describe("what the real aktualizr-secondary refuses", Label("aktualizr"), func() {
	It("refuses standard TUF-format metadata (it needs its dialect) and a dialect file signed by the wrong key, and installs nothing", func() {
		bin := requireBinary()
		p := startSecondary(bin, aktualizr.Full, "akt-ecu-2", "akt-hw")
		img := []byte("firmware")
		b := newBackend(map[string][]byte{"fw.bin": img}, "akt-hw")
		c := &ip.Client{Dial: ip.TCP(p.Addr, 10*time.Second)}
		defer c.Close()
		info, err := c.GetInfo()
		Expect(err).NotTo(HaveOccurred())
		b.register(info)
		Expect(b.d.Assign(b.vin, "akt-ecu-2", "fw.bin")).To(Succeed())

		// TUF form, as go-tuf writes it: lower-case _type, hex signatures without a method.
		tuf := func(name string) []byte { f, ok := b.im.File(name); Expect(ok).To(BeTrue()); return f }
		root, _ := b.im.File("root.json")
		err = c.PutMeta([]ip.MetaJSON{{Role: "root", JSON: root}, {Role: "timestamp", JSON: tuf("timestamp.json")}}, nil)
		var re *ip.ResultError
		Expect(err).To(BeAssignableToTypeOf(re))
		Expect(err.(*ip.ResultError).Code).To(Equal(ip.ResultValidationFailed))

		// The dialect, but the Image Targets signed by the Director's Targets key.
		image, director := b.collections(aktualizr.Full)
		forged, err := akdialect.Targets(tuf("1.targets.json"), nil, b.d.Signers("targets"))
		Expect(err).NotTo(HaveOccurred())
		image[3].JSON = forged
		err = c.PutMeta(image, director)
		Expect(err).To(BeAssignableToTypeOf(re))
		Expect(err.(*ip.ResultError).Code).To(Equal(ip.ResultValidationFailed))
		Expect(err).To(MatchError(ContainSubstring("Image repo")))
		Expect(c.Install("fw.bin")).To(MatchError(ContainSubstring("no valid target")))
		Expect(filepath.Join(p.Opts.Dir, "firmware.txt")).NotTo(BeAnExistingFile())
	})
})
