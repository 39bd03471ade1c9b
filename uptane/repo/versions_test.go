package repo_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// A backend that persists across a device's scenarios numbers its metadata
// above whatever its clients were given in its name (forged with its keys):
// versions only go up (issue 10).
var _ = Describe("versions above those seen", func() {
	version := func(d *repo.Director, role string) int64 {
		GinkgoHelper()
		n, err := d.Version("VIN1", role)
		Expect(err).NotTo(HaveOccurred())
		return n
	}

	It("the Director re-signs Targets, Snapshot and Timestamp numbered after the highest seen, and does nothing when it is ahead", func() {
		f := newFixture()
		tg := f.targets("VIN1")
		t0, s0, ts0 := version(f.d, meta.Targets), version(f.d, meta.Snapshot), version(f.d, meta.Timestamp)
		raised, err := f.d.Above("VIN1", repo.Versions{meta.Targets: t0, meta.Snapshot: s0})
		Expect(err).NotTo(HaveOccurred())
		Expect(raised).To(BeFalse(), "its own versions are no reason to re-sign")
		Expect(version(f.d, meta.Timestamp)).To(Equal(ts0))

		// an attacker with its online keys signed Targets t0+3
		raised, err = f.d.Above("VIN1", repo.Versions{meta.Targets: t0 + 3, meta.Timestamp: ts0 + 7})
		Expect(err).NotTo(HaveOccurred())
		Expect(raised).To(BeTrue())
		Expect(version(f.d, meta.Targets)).To(Equal(t0 + 4))
		Expect(version(f.d, meta.Snapshot)).To(Equal(s0 + 1))
		Expect(version(f.d, meta.Timestamp)).To(Equal(ts0 + 8))
		// the files it serves are those versions, with the same assignments
		now := f.targets("VIN1")
		Expect(now.Signed.Version).To(Equal(t0 + 4))
		Expect(now.Signed.Targets).To(HaveLen(len(tg.Signed.Targets)))
		ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(f.file("VIN1", "timestamp.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(ts.Signed.Version).To(Equal(ts0 + 8))
		Expect(ts.Signed.Meta["snapshot.json"].Version).To(Equal(s0 + 1))
		// the other vehicle is untouched
		n, err := f.d.Version("VIN2", meta.Targets)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeNumerically("<=", 1))
	})

	It("the Image repository publishes every role seen at or above its own, numbered after it, and it persists", func() {
		clk := newClock(epoch)
		dir := GinkgoT().TempDir()
		im := newImage(dir, clk, 1, nil)
		Expect(im.AddImage("ecm.bin", []byte("engine firmware"), []string{"ecm-hw"}, 1)).To(Succeed())
		Expect(im.Publish()).To(Succeed())
		t0, s0, ts0 := im.Version(meta.Targets), im.Version(meta.Snapshot), im.Version(meta.Timestamp)
		raised, err := im.Above(repo.Versions{meta.Targets: t0, meta.Snapshot: s0 - 1, meta.Root: 9})
		Expect(err).NotTo(HaveOccurred())
		Expect(raised).To(BeFalse(), "nothing seen above what it published (a Root changes only by rotation)")
		raised, err = im.Above(repo.Versions{meta.Snapshot: s0 + 5})
		Expect(err).NotTo(HaveOccurred())
		Expect(raised).To(BeTrue())
		Expect(im.Version(meta.Snapshot)).To(Equal(s0 + 6))
		Expect(im.Version(meta.Timestamp)).To(Equal(ts0 + 1))
		Expect(im.Version(meta.Targets)).To(Equal(t0), "a role not seen ahead keeps its version")
		_, err = im.Above(repo.Versions{meta.Targets: t0 + 2})
		Expect(err).NotTo(HaveOccurred())
		Expect(im.Version(meta.Targets)).To(Equal(t0 + 3))
		tg := parseTargets(mustFile(im, meta.VersionedName(t0+3, meta.Targets)))
		Expect(tg.Signed.Targets).To(HaveKey("ecm.bin"))

		again := newImage(dir, clk, 1, nil)
		Expect(again.Version(meta.Targets)).To(Equal(t0 + 3))
		Expect(again.Version(meta.Snapshot)).To(Equal(s0 + 7))
	})

	It("the Image repository re-publishes metadata near its expiry when its clock jumped, and nothing when it is fresh", func() {
		clk := newClock(epoch)
		im := newImage("", clk, 1, nil)
		ts0 := im.Version(meta.Timestamp)
		published, err := im.Fresh()
		Expect(err).NotTo(HaveOccurred())
		Expect(published).To(BeFalse())
		clk.Advance(48 * time.Hour) // past the timestamp's 6 h
		published, err = im.Fresh()
		Expect(err).NotTo(HaveOccurred())
		Expect(published).To(BeTrue())
		Expect(im.Version(meta.Timestamp)).To(Equal(ts0 + 1))
		ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(mustFile(im, "timestamp.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(ts.Signed.Expires.After(clk.Now())).To(BeTrue())
	})
})
