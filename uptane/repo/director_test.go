package repo_test

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

type ecuKeys struct {
	sign *keys.Private
	enc  *ecdh.PrivateKey
}

func mkECU(s seed.Seed, id string) ecuKeys {
	GinkgoHelper()
	k, err := keys.Generate(keys.Ed25519, s.Reader("ecu-sign/"+id))
	Expect(err).NotTo(HaveOccurred())
	e, err := imagecrypt.GenerateKey(s.Reader("ecu-enc/" + id))
	Expect(err).NotTo(HaveOccurred())
	return ecuKeys{k, e}
}

var installedFW = manifest.Image{Filename: "old.bin", Length: 3, Hashes: meta.HashesOf([]byte("old"))}

type fixture struct {
	clk  *testClock
	im   *repo.Image
	dir  string
	d    *repo.Director
	ecus map[string]ecuKeys
	log  *bytes.Buffer
}

func (f *fixture) open() {
	GinkgoHelper()
	var err error
	f.d, err = repo.OpenDirector(repo.DirectorOptions{Dir: f.dir, Clock: f.clk, Images: f.im,
		Keys:   repo.KeyConfig{Rand: seed.Seed(11).Reader("director-keys"), Thresholds: map[string]int{meta.Targets: 2, meta.Timestamp: 2}},
		Rand:   seed.Seed(11).Reader("director-enc"),
		Expiry: repo.Expiry{Timestamp: 2 * time.Hour},
		Logger: slog.New(slog.NewTextHandler(f.log, nil))})
	Expect(err).NotTo(HaveOccurred())
}

func newFixture() *fixture {
	GinkgoHelper()
	f := &fixture{clk: newClock(epoch), dir: GinkgoT().TempDir(), ecus: map[string]ecuKeys{}, log: &bytes.Buffer{}}
	f.im = newImage("", f.clk, 1, nil)
	Expect(f.im.AddImage("brk.bin", []byte("brake firmware v2"), []string{"brk-hw"}, 2)).To(Succeed())
	Expect(f.im.AddImage("pri.bin", []byte("primary firmware"), []string{"pri-hw"}, 1)).To(Succeed())
	Expect(f.im.Publish()).To(Succeed())
	f.open()
	DeferCleanup(func() { f.d.Close() })
	for _, id := range []string{"PRI-1", "SEC-1", "PRI-2", "SEC-2"} {
		f.ecus[id] = mkECU(5, id)
	}
	ecu := func(id, hw string, primary bool) repo.ECU {
		return repo.ECU{ID: id, HardwareID: hw, Key: f.ecus[id].sign.Public(), EncryptionKey: f.ecus[id].enc.PublicKey().Bytes(), Primary: primary}
	}
	Expect(f.d.AddVehicle("VIN1", ecu("PRI-1", "pri-hw", true), ecu("SEC-1", "brk-hw", false))).To(Succeed())
	Expect(f.d.AddVehicle("VIN2", ecu("PRI-2", "pri-hw", true), ecu("SEC-2", "brk-hw", false))).To(Succeed())
	return f
}

// report builds a signed version report of ECU id.
func (f *fixture) report(id string, nonce byte, counter uint64, attacks ...manifest.DetectedAttack) manifest.SignedReport {
	GinkgoHelper()
	r, err := manifest.SignReport(manifest.NewReport(id, installedFW, attacks, f.clk.Now(), []byte{nonce, 0xAA}, counter), f.ecus[id].sign)
	Expect(err).NotTo(HaveOccurred())
	return r
}

func (f *fixture) manifest(vin, primary string, signer keys.Signer, reports ...manifest.SignedReport) []byte {
	GinkgoHelper()
	sm, err := manifest.SignManifest(manifest.VehicleManifest{VIN: vin, PrimaryID: primary, Reports: reports}, signer)
	Expect(err).NotTo(HaveOccurred())
	b, err := sm.Encode()
	Expect(err).NotTo(HaveOccurred())
	return b
}

func (f *fixture) good(nonce byte, counter uint64) []byte {
	return f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", nonce, counter), f.report("SEC-1", nonce, counter))
}

func (f *fixture) file(vin, name string) []byte {
	GinkgoHelper()
	b, err := f.d.File(vin, name)
	Expect(err).NotTo(HaveOccurred(), name)
	return b
}

func (f *fixture) targets(vin string) *metadata.Metadata[metadata.TargetsType] {
	GinkgoHelper()
	f.file(vin, "timestamp.json")
	v, err := f.d.Version(vin, meta.Targets)
	Expect(err).NotTo(HaveOccurred())
	return parseTargets(f.file(vin, meta.VersionedName(v, meta.Targets)))
}

var _ = Describe("Director repository", func() {
	var f *fixture
	BeforeEach(func() { f = newFixture() })

	Describe("inventory", func() {
		It("records vehicles and ECUs with key IDs and one Primary", Label("std:build_time#6", "std:inventory_db#1", "std:inventory_db#5", "std:inventory_db#6", "std:inventory_db#7", "std:inventory_db#8"), func() {
			v, err := f.d.Vehicle("VIN1")
			Expect(err).NotTo(HaveOccurred())
			p, ok := v.Primary()
			Expect(ok).To(BeTrue())
			Expect(p.ID).To(Equal("PRI-1"))
			Expect(p.KeyID).To(Equal(f.ecus["PRI-1"].sign.KeyID()))
			s, _ := v.ECU("SEC-1")
			Expect(s.HardwareID).To(Equal("brk-hw"))
			Expect(s.EncryptionKey).To(HaveLen(32))
		})
		It("rejects a second Primary, an ECU already in another vehicle, and unknown vehicles", Label("std:inventory_db#2", "std:inventory_db#3", "std:inventory_db#4", "std:inventory_db#8"), func() {
			k := f.ecus["SEC-1"].sign.Public()
			Expect(f.d.AddVehicle("VIN3", repo.ECU{ID: "A", Key: k, Primary: true}, repo.ECU{ID: "B", Key: k, Primary: true})).To(MatchError(ContainSubstring("2 Primary ECUs")))
			Expect(f.d.AddVehicle("VIN3", repo.ECU{ID: "SEC-1", Key: k, Primary: true})).To(MatchError(ContainSubstring("already belongs to vehicle VIN1")))
			Expect(f.d.AddVehicle("VIN1", repo.ECU{ID: "C", Key: k, Primary: true})).To(MatchError(ContainSubstring("already exists")))
			_, err := f.d.Vehicle("NOPE")
			Expect(errors.Is(err, repo.ErrUnknownVehicle)).To(BeTrue())
		})
	})

	Describe("per-vehicle metadata", func() {
		It("carries the VIN and no targets before any assignment", Label("std:targets_images_meta#3", "std:targets_role_delegations#7"), func() {
			tg := f.targets("VIN1")
			Expect(tg.Signed.Targets).To(BeEmpty())
			Expect(tg.Signed.UnrecognizedFields["custom"]).To(Equal(map[string]any{"vin": "VIN1"}))
			Expect(tg.Signed.Delegations).To(BeNil())
			Expect(f.targets("VIN2").Signed.UnrecognizedFields["custom"]).To(Equal(map[string]any{"vin": "VIN2"}))
		})

		It("assigns images with the Image repository's metadata plus ecuIdentifiers, signed on demand with the thresholds", Label("std:snapshot_meta#1", "std:snapshot_role#1", "std:targets_custom_meta#1", "std:targets_custom_meta#2", "std:targets_custom_meta#4", "std:targets_custom_meta#5", "std:targets_role#1", "std:targets_role_delegations#7", "std:timestamp_meta#1", "std:timestamp_meta#2", "std:timestamp_role#1", "std:timestamp_role#2"), func() {
			Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin")).To(Succeed())
			Expect(f.d.Assign("VIN1", "PRI-1", "pri.bin")).To(Succeed())
			tg := f.targets("VIN1")
			Expect(tg.Signed.Version).To(BeEquivalentTo(1), "signed on demand: both assignments are in the first version")
			Expect(tg.Signed.Targets).To(HaveLen(2))
			imgTF, err := f.im.Target("brk.bin")
			Expect(err).NotTo(HaveOccurred())
			tf := tg.Signed.Targets["brk.bin"]
			Expect(tf.Length).To(Equal(imgTF.Length))
			Expect(tf.Hashes.Equal(imgTF.Hashes)).To(BeTrue())
			dc, err := meta.GetCustom(tf)
			Expect(err).NotTo(HaveOccurred())
			ic, _ := meta.GetCustom(imgTF)
			Expect(dc.Uptane.Equal(ic.Uptane)).To(BeTrue(), "the SHALL-match section is the Image repository's")
			Expect(dc.ECUIdentifiers).To(Equal(map[string]meta.ECUTarget{"SEC-1": {HardwareID: "brk-hw"}}))
			Expect(tg.Signed.Delegations).To(BeNil())

			root := parseRoot(f.d.Root())
			Expect(root.Signed.Roles[meta.Targets].Threshold).To(Equal(2))
			Expect(root.VerifyDelegate(meta.Targets, tg)).To(Succeed())
			Expect(validSigs(tg.Signed, tg.Signatures, root.Signed.Keys, root.Signed.Roles[meta.Targets].KeyIDs)).To(Equal(2))
			ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(f.file("VIN1", "timestamp.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(root.VerifyDelegate(meta.Timestamp, ts)).To(Succeed())
			sv, _ := f.d.Version("VIN1", meta.Snapshot)
			snb := f.file("VIN1", meta.VersionedName(sv, meta.Snapshot))
			Expect(ts.Signed.Meta["snapshot.json"].VerifyLengthHashes(snb)).To(Succeed())
			sn, _ := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(snb)
			Expect(root.VerifyDelegate(meta.Snapshot, sn)).To(Succeed())
			Expect(sn.Signed.Meta["targets.json"].Version).To(Equal(tg.Signed.Version))
			Expect(f.file("VIN1", "1.root.json")).To(Equal(f.d.Root()))
		})

		It("re-signs only when assignments change or metadata ages, and versions only go up", Label("std:common_metadata#4"), func() {
			f.file("VIN1", "timestamp.json")
			t1, _ := f.d.Version("VIN1", meta.Timestamp)
			g1, _ := f.d.Version("VIN1", meta.Targets)
			f.file("VIN1", "timestamp.json")
			t2, _ := f.d.Version("VIN1", meta.Timestamp)
			Expect(t2).To(Equal(t1), "nothing changed: the same timestamp is served")
			f.clk.Advance(61 * time.Minute) // past half of the 2 h timestamp validity
			f.file("VIN1", "timestamp.json")
			t3, _ := f.d.Version("VIN1", meta.Timestamp)
			g3, _ := f.d.Version("VIN1", meta.Targets)
			Expect(t3).To(Equal(t1 + 1))
			Expect(g3).To(Equal(g1))
			Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin")).To(Succeed())
			f.file("VIN1", "timestamp.json")
			g4, _ := f.d.Version("VIN1", meta.Targets)
			Expect(g4).To(Equal(g1 + 1))
		})

		It("refuses an image for other hardware", Label("std:inventory_db#9"), func() {
			Expect(f.d.Assign("VIN1", "SEC-1", "pri.bin")).To(MatchError(ContainSubstring(`ECU SEC-1 is "brk-hw"`)))
			Expect(f.d.Assign("VIN1", "SEC-2", "brk.bin")).To(MatchError(ContainSubstring("has no ECU")))
			Expect(f.d.Assign("VIN1", "SEC-1", "missing.bin")).To(MatchError(ContainSubstring("no image")))
		})

		It("encrypts an assigned image for one ECU: round-trips with its key, fails with another", Label("std:targets_custom_meta#6"), func() {
			Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin", repo.AssignOptions{Encrypt: true})).To(Succeed())
			tg := f.targets("VIN1")
			c, err := meta.GetCustom(tg.Signed.Targets["brk.bin"])
			Expect(err).NotTo(HaveOccurred())
			enc := c.ECUIdentifiers["SEC-1"].Encrypted
			Expect(enc).NotTo(BeNil())
			Expect(enc.Algorithm).To(Equal(imagecrypt.Algorithm))
			for _, n := range meta.ImageNames(enc.Filename, enc.Hashes) {
				ct := f.file("VIN1", "targets/"+n)
				pt, err := imagecrypt.Decrypt(f.ecus["SEC-1"].enc, enc, ct)
				Expect(err).NotTo(HaveOccurred())
				Expect(pt).To(Equal([]byte("brake firmware v2")))
				_, err = imagecrypt.Decrypt(f.ecus["SEC-2"].enc, enc, ct)
				Expect(errors.Is(err, imagecrypt.ErrDecrypt)).To(BeTrue())
			}
		})

		It("assigns in clear when its profile lacks director_repository.encrypt_images (the eavesdrop control)", func() {
			Expect(f.d.Close()).To(Succeed()) // the fixture's conformant Director; cleanup closes the new one
			var err error
			f.d, err = repo.OpenDirector(repo.DirectorOptions{Dir: GinkgoT().TempDir(), Clock: f.clk, Images: f.im,
				Keys: repo.KeyConfig{Rand: seed.Seed(11).Reader("director-keys")}, Rand: seed.Seed(11).Reader("director-enc"),
				Profile: check.Without(check.DirectorRepositoryEncryptImages)})
			Expect(err).NotTo(HaveOccurred())
			sec := f.ecus["SEC-1"]
			Expect(f.d.AddVehicle("VIN1",
				repo.ECU{ID: "PRI-1", HardwareID: "pri-hw", Key: f.ecus["PRI-1"].sign.Public(), Primary: true},
				repo.ECU{ID: "SEC-1", HardwareID: "brk-hw", Key: sec.sign.Public(), EncryptionKey: sec.enc.PublicKey().Bytes()})).To(Succeed())
			Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin", repo.AssignOptions{Encrypt: true})).To(Succeed())
			tg := f.targets("VIN1")
			c, err := meta.GetCustom(tg.Signed.Targets["brk.bin"])
			Expect(err).NotTo(HaveOccurred())
			Expect(c.ECUIdentifiers["SEC-1"].Encrypted).To(BeNil())
			Expect(tg.Signed.Targets["brk.bin"].Hashes).To(Equal(meta.HashesOf([]byte("brake firmware v2"))))
			as, err := f.d.Assignments("VIN1")
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(1))
			Expect(as[0].Encrypted).To(BeNil())
		})

		It("signs byte-identical metadata for the same seed, clock and inputs", func() {
			g := newFixture()
			for _, x := range []*fixture{f, g} {
				Expect(x.d.Assign("VIN1", "SEC-1", "brk.bin")).To(Succeed())
			}
			Expect(g.file("VIN1", "timestamp.json")).To(Equal(f.file("VIN1", "timestamp.json")))
			Expect(g.file("VIN1", "1.targets.json")).To(Equal(f.file("VIN1", "1.targets.json")))
		})
	})

	Describe("vehicle version manifests", func() {
		expectRejected := func(err error, id check.ID, ecu string) {
			GinkgoHelper()
			Expect(err).To(HaveOccurred())
			Expect(check.Is(err, id)).To(BeTrue(), "want %s, got %v", id, err)
			ce, _ := check.As(err)
			Expect(ce.ECU).To(Equal(ecu))
			Expect(ce.Repo).To(Equal(meta.Director))
			recs, rerr := f.d.Records("VIN1")
			Expect(rerr).NotTo(HaveOccurred())
			last := recs[len(recs)-1]
			Expect(last.Accepted).To(BeFalse())
			Expect(last.Check).To(Equal(id))
			Expect(last.ECU).To(Equal(ecu))
			inst, _ := f.d.Installed("VIN1")
			Expect(inst).To(BeEmpty(), "a rejected manifest records no installed versions")
		}

		It("accepts a complete, correctly signed, fresh manifest and records versions and attacks", Label("std:director_repository#5", "std:in_vehicle#5"), func() {
			att := *manifest.AttackFrom(check.Fail(check.TimestampExpiry, meta.Director, meta.Timestamp, "expired"))
			m := f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1), f.report("SEC-1", 1, 1, att))
			rec, err := f.d.ReceiveManifest("VIN1", m)
			Expect(err).NotTo(HaveOccurred())
			Expect(rec.Accepted).To(BeTrue())
			inst, err := f.d.Installed("VIN1")
			Expect(err).NotTo(HaveOccurred())
			Expect(inst).To(HaveLen(2))
			Expect(inst["SEC-1"].Image.Filename).To(Equal("old.bin"))
			Expect(inst["SEC-1"].Counter).To(BeEquivalentTo(1))
			atts, err := f.d.Attacks("VIN1")
			Expect(err).NotTo(HaveOccurred())
			Expect(atts).To(HaveLen(1))
			Expect(atts[0].ECU).To(Equal("SEC-1"))
			Expect(atts[0].Check).To(Equal(check.TimestampExpiry))
			Expect(atts[0].Attack).To(Equal(check.Freeze))
			// the next cycle, with a new nonce and counter, is accepted too
			f.clk.Advance(time.Minute)
			_, err = f.d.ReceiveManifest("VIN1", f.good(2, 2))
			Expect(err).NotTo(HaveOccurred())
		})

		It("rejects a manifest not signed by the vehicle's Primary (manifest_signature)", Label("std:director_repository#4", "std:director_repository#6", "std:director_repository#8"), func() {
			forger, _ := keys.Generate(keys.Ed25519, seed.Seed(66).Reader("forger"))
			_, err := f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", forger, f.report("PRI-1", 1, 1), f.report("SEC-1", 1, 1)))
			expectRejected(err, check.DirectorRepositoryManifestSignature, "PRI-1")
			// signed by another vehicle's Primary
			_, err = f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-2"].sign, f.report("PRI-1", 1, 1), f.report("SEC-1", 1, 1)))
			expectRejected(err, check.DirectorRepositoryManifestSignature, "PRI-1")
			// a Secondary posing as the Primary
			_, err = f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "SEC-1", f.ecus["SEC-1"].sign, f.report("PRI-1", 1, 1), f.report("SEC-1", 1, 1)))
			expectRejected(err, check.DirectorRepositoryManifestSignature, "PRI-1")
			// another vehicle's genuine manifest replayed to this vehicle
			other := f.manifest("VIN2", "PRI-2", f.ecus["PRI-2"].sign, f.report("PRI-2", 1, 1), f.report("SEC-2", 1, 1))
			_, err = f.d.ReceiveManifest("VIN1", other)
			expectRejected(err, check.DirectorRepositoryManifestSignature, "PRI-1")
		})

		It("rejects a forged ECU version report (report_signature)", Label("std:director_repository#6", "std:director_repository#9"), func() {
			forged := f.report("SEC-1", 1, 1)
			Expect(forged.Sign(f.ecus["PRI-1"].sign)).To(Succeed()) // the Primary signs for the Secondary
			forged.Signatures = forged.Signatures[1:]
			_, err := f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1), forged))
			expectRejected(err, check.DirectorRepositoryReportSignature, "SEC-1")
			// a genuine report altered by the Primary
			altered := f.report("SEC-1", 1, 1)
			altered.Signed.Installed.Filename = "new.bin"
			_, err = f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1), altered))
			expectRejected(err, check.DirectorRepositoryReportSignature, "SEC-1")
		})

		It("rejects a report from an ECU of another vehicle or of no vehicle (ecus_in_inventory)", Label("std:director_repository#6"), func() {
			_, err := f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1), f.report("SEC-1", 1, 1), f.report("SEC-2", 1, 1)))
			expectRejected(err, check.DirectorRepositoryECUsInInventory, "SEC-2")
			Expect(err).To(MatchError(ContainSubstring("belongs to vehicle VIN2")))
			f.ecus["ROGUE"] = mkECU(5, "ROGUE")
			_, err = f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1), f.report("SEC-1", 1, 1), f.report("ROGUE", 1, 1)))
			expectRejected(err, check.DirectorRepositoryECUsInInventory, "ROGUE")
		})

		It("rejects a manifest that leaves out an ECU (all_ecus_reported)", Label("std:director_repository#6", "std:director_repository#7", "std:vehicle_version_manifest#3"), func() {
			_, err := f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1)))
			expectRejected(err, check.DirectorRepositoryAllECUsReported, "SEC-1")
		})

		It("rejects replayed nonces, counters that do not increase and time that goes backwards (nonce_fresh)", Label("std:director_repository#6", "std:director_repository#10", "std:director_repository#11"), func() {
			_, err := f.d.ReceiveManifest("VIN1", f.good(1, 1))
			Expect(err).NotTo(HaveOccurred())
			_, err = f.d.ReceiveManifest("VIN1", f.good(1, 1))
			Expect(check.Is(err, check.DirectorRepositoryNonceFresh)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(ContainSubstring("reused nonce")))
			_, err = f.d.ReceiveManifest("VIN1", f.good(2, 1))
			Expect(check.Is(err, check.DirectorRepositoryNonceFresh)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(ContainSubstring("report counter 1, last accepted 1")))
			f.clk.Advance(-time.Hour)
			_, err = f.d.ReceiveManifest("VIN1", f.good(3, 3))
			Expect(check.Is(err, check.DirectorRepositoryNonceFresh)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(ContainSubstring("before its last accepted")))
			recs, _ := f.d.Records("VIN1")
			Expect(recs).To(HaveLen(4))
			Expect(recs[0].Accepted).To(BeTrue())
			Expect(recs[3].Check).To(Equal(check.DirectorRepositoryNonceFresh))
		})

		It("rejects a report time far in the future and malformed bodies, naming what failed", Label("std:director_repository#10"), func() {
			r := f.report("SEC-1", 1, 1)
			r.Signed.LatestTime = epoch.Add(24 * time.Hour)
			Expect(r.Sign(f.ecus["SEC-1"].sign)).To(Succeed())
			_, err := f.d.ReceiveManifest("VIN1", f.manifest("VIN1", "PRI-1", f.ecus["PRI-1"].sign, f.report("PRI-1", 1, 1), r))
			Expect(err).To(MatchError(ContainSubstring("more than 5m0s ahead")))
			_, err = f.d.ReceiveManifest("VIN1", []byte(`{"signed":`))
			Expect(errors.Is(err, repo.ErrBadManifest)).To(BeTrue())
			_, err = f.d.ReceiveManifest("NOPE", f.good(1, 1))
			Expect(errors.Is(err, repo.ErrUnknownVehicle)).To(BeTrue())
			recs, _ := f.d.Records("VIN1")
			Expect(recs).To(HaveLen(2))
			Expect(recs[1].Error).To(ContainSubstring("malformed"))
		})
	})

	It("keeps inventory, assignments, nonces, records and versions across a restart", Label("std:director_repository#3", "std:inventory_db#1"), func() {
		Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin")).To(Succeed())
		_, err := f.d.ReceiveManifest("VIN1", f.good(1, 1))
		Expect(err).NotTo(HaveOccurred())
		f.file("VIN1", "timestamp.json")
		tsv, _ := f.d.Version("VIN1", meta.Timestamp)
		tgv, _ := f.d.Version("VIN1", meta.Targets)
		root := f.d.Root()
		recs, _ := f.d.Records("VIN1")
		Expect(f.d.Close()).To(Succeed())

		f.open()
		Expect(f.d.Root()).To(Equal(root))
		r2, err := f.d.Records("VIN1")
		Expect(err).NotTo(HaveOccurred())
		Expect(r2).To(Equal(recs))
		inst, _ := f.d.Installed("VIN1")
		Expect(inst).To(HaveKey("SEC-1"))
		as, _ := f.d.Assignments("VIN1")
		Expect(as).To(HaveLen(1))
		_, err = f.d.ReceiveManifest("VIN1", f.good(1, 2))
		Expect(check.Is(err, check.DirectorRepositoryNonceFresh)).To(BeTrue(), "a nonce seen before the restart is still seen: %v", err)
		Expect(f.d.Assign("VIN1", "PRI-1", "pri.bin")).To(Succeed())
		f.file("VIN1", "timestamp.json")
		tsv2, _ := f.d.Version("VIN1", meta.Timestamp)
		tgv2, _ := f.d.Version("VIN1", meta.Targets)
		Expect(tsv2).To(Equal(tsv + 1))
		Expect(tgv2).To(Equal(tgv + 1))
		Expect(f.targets("VIN1").Signed.Targets).To(HaveLen(2))
	})

	It("rotates Root and re-signs every vehicle's metadata with the new keys", Label("std:root_role#1"), func() {
		f.file("VIN1", "timestamp.json")
		nk := genKeys(8, "director-ts", 1)
		Expect(f.d.RotateKeys(meta.Timestamp, nk, 1)).To(Succeed())
		r2 := parseRoot(f.file("VIN1", "2.root.json"))
		r1 := parseRoot(f.file("VIN1", "1.root.json"))
		Expect(r1.VerifyDelegate(meta.Root, r2)).To(Succeed())
		ts, _ := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(f.file("VIN1", "timestamp.json"))
		Expect(r2.VerifyDelegate(meta.Timestamp, ts)).To(Succeed())
		Expect(ts.Signatures[0].KeyID).To(Equal(nk[0].KeyID()))
		Expect(f.d.Signers(meta.Timestamp)[0].KeyID()).To(Equal(nk[0].KeyID()))
	})

	Describe("over HTTP", func() {
		var c *http.Client
		BeforeEach(func() { c = &http.Client{Transport: repo.InProcessTransport(f.d.Handler())} })
		do := func(method, url string, body []byte) (int, []byte) {
			GinkgoHelper()
			req, err := http.NewRequest(method, url, bytes.NewReader(body))
			Expect(err).NotTo(HaveOccurred())
			resp, err := c.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}

		It("serves metadata and encrypted images per vehicle", Label("std:director_repository#1", "std:director_repository#2"), func() {
			Expect(f.d.Assign("VIN1", "SEC-1", "brk.bin", repo.AssignOptions{Encrypt: true})).To(Succeed())
			code, b := do("GET", "http://director/VIN1/timestamp.json", nil)
			Expect(code).To(Equal(200))
			Expect(b).To(Equal(f.file("VIN1", "timestamp.json")))
			code, _ = do("GET", "http://director/VIN1/1.root.json", nil)
			Expect(code).To(Equal(200))
			code, _ = do("GET", "http://director/VIN1/1.targets.json", nil)
			Expect(code).To(Equal(200))
			code, _ = do("GET", "http://director/VIN1/99.targets.json", nil)
			Expect(code).To(Equal(404))
			code, _ = do("GET", "http://director/NOPE/timestamp.json", nil)
			Expect(code).To(Equal(404))
			c, _ := meta.GetCustom(f.targets("VIN1").Signed.Targets["brk.bin"])
			enc := c.ECUIdentifiers["SEC-1"].Encrypted
			code, b = do("GET", "http://director/VIN1/targets/"+hex.EncodeToString(enc.Hashes["sha256"])+"."+enc.Filename, nil)
			Expect(code).To(Equal(200))
			Expect(int64(len(b))).To(Equal(enc.Length))
			code, _ = do("PUT", "http://director/VIN1/timestamp.json", nil)
			Expect(code).To(Equal(405))
		})

		It("takes manifests by POST with size cap and status codes, and reports records", Label("std:director_repository#1"), func() {
			code, b := do("POST", "http://director/VIN1/manifest", f.good(1, 1))
			Expect(code).To(Equal(200), string(b))
			var reply map[string]any
			Expect(json.Unmarshal(b, &reply)).To(Succeed())
			Expect(reply["accepted"]).To(BeTrue())
			code, b = do("POST", "http://director/VIN1/manifest", f.good(1, 1))
			Expect(code).To(Equal(403))
			Expect(json.Unmarshal(b, &reply)).To(Succeed())
			Expect(reply["check"]).To(Equal(check.DirectorRepositoryNonceFresh.String()))
			Expect(reply["attack"]).To(Equal("replay"))
			code, _ = do("POST", "http://director/VIN1/manifest", []byte(strings.Repeat(" ", manifest.MaxManifestSize+1)))
			Expect(code).To(Equal(413))
			code, _ = do("POST", "http://director/VIN1/manifest", []byte("{"))
			Expect(code).To(Equal(400))
			code, _ = do("GET", "http://director/VIN1/manifest", nil)
			Expect(code).To(Equal(405))
			code, b = do("GET", "http://director/VIN1/records", nil)
			Expect(code).To(Equal(200))
			var recs []repo.Record
			Expect(json.Unmarshal(b, &recs)).To(Succeed())
			Expect(recs).To(HaveLen(3)) // the oversized body was never read into a record
			code, b = do("GET", "http://director/VIN1/installed", nil)
			Expect(code).To(Equal(200))
			Expect(string(b)).To(ContainSubstring("old.bin"))
			code, _ = do("GET", "http://director/VIN1/attacks", nil)
			Expect(code).To(Equal(200))
		})
	})
})
