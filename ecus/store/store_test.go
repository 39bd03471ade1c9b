package store_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

func image(name string, data []byte, rc uint64) store.Image {
	return store.Image{Name: name, Length: int64(len(data)), Hashes: meta.HashesOf(data), ReleaseCounter: rc}
}

// crashAt returns a CrashFunc that cuts the power at the n-th crash point
// (counting from 1) and counts the points it saw.
func crashAt(n int, seen *[]string) store.CrashFunc {
	return func(p string) {
		*seen = append(*seen, p)
		if len(*seen) == n {
			panic(store.Crash{Point: p})
		}
	}
}

func install(dir string, crash store.CrashFunc, img store.Image, data []byte) (crashed bool) {
	GinkgoHelper()
	defer func() {
		if r := recover(); r != nil {
			_, ok := r.(store.Crash)
			Expect(ok).To(BeTrue(), "unexpected panic %v", r)
			crashed = true
		}
	}()
	s, err := store.Open(dir, "ECU-1", crash)
	Expect(err).NotTo(HaveOccurred())
	Expect(s.Install(img, data)).To(Succeed())
	return false
}

var _ = Describe("ECU state store", func() {
	var dir string
	oldData := bytes.Repeat([]byte("old firmware "), 500)
	newData := bytes.Repeat([]byte("NEW firmware!"), 700)

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		Expect(install(dir, nil, image("fw-1.bin", oldData, 1), oldData)).To(BeFalse())
	})

	It("installs into the inactive slot and switches atomically", Label("std:download_image#3", "std:install_image#1"), func() {
		s, err := store.Open(dir, "ECU-1", nil)
		Expect(err).NotTo(HaveOccurred())
		before := s.State()
		Expect(s.Install(image("fw-2.bin", newData, 2), newData)).To(Succeed())
		after := s.State()
		Expect(after.Active).NotTo(Equal(before.Active))
		img, data, err := s.ReadActive()
		Expect(err).NotTo(HaveOccurred())
		Expect(img.Name).To(Equal("fw-2.bin"))
		Expect(data).To(Equal(newData))
		st, err := os.Stat(filepath.Join(dir, "state.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)))
	})

	It("refuses to install bytes that do not match their metadata", func() {
		s, err := store.Open(dir, "ECU-1", nil)
		Expect(err).NotTo(HaveOccurred())
		err = s.Install(image("fw-2.bin", newData, 2), append([]byte{1}, newData[1:]...))
		Expect(err).To(MatchError(ContainSubstring("hash mismatch")))
		img, _, _ := s.ReadActive()
		Expect(img.Name).To(Equal("fw-1.bin"))
	})

	It("boots a whole image, old or new, after a power cut at every crash point of an install", Label("std:download_image#3", "std:install_image#1"), func() {
		var all []string
		probe := GinkgoT().TempDir()
		Expect(install(probe, nil, image("fw-1.bin", oldData, 1), oldData)).To(BeFalse())
		Expect(install(probe, func(p string) { all = append(all, p) }, image("fw-2.bin", newData, 2), newData)).To(BeFalse())
		Expect(len(all)).To(BeNumerically(">=", 6))
		for n := 1; n <= len(all); n++ {
			d := GinkgoT().TempDir()
			Expect(install(d, nil, image("fw-1.bin", oldData, 1), oldData)).To(BeFalse())
			var seen []string
			crashed := install(d, crashAt(n, &seen), image("fw-2.bin", newData, 2), newData)
			Expect(crashed).To(BeTrue(), "crash point %d", n)
			s, err := store.Open(d, "ECU-1", nil)
			Expect(err).NotTo(HaveOccurred(), "reboot after crash at %s", seen[n-1])
			img, data, err := s.ReadActive()
			Expect(err).NotTo(HaveOccurred())
			switch img.Name {
			case "fw-1.bin":
				Expect(data).To(Equal(oldData))
			case "fw-2.bin":
				Expect(data).To(Equal(newData))
			default:
				Fail("unknown image " + img.Name)
			}
			// and it can update again
			Expect(s.Install(image("fw-3.bin", oldData[:100], 3), oldData[:100])).To(Succeed())
			entries, err := os.ReadDir(d)
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).NotTo(BeEmpty())
			for _, e := range entries {
				Expect(e.Name()).NotTo(ContainSubstring(".tmp-"), "a temporary file survived the reboot")
			}
		}
	})

	It("programs a slot page by page into a temporary file: a cut between two pages leaves it there, and the next Open removes it", func() {
		var seen []string
		cut := -1
		probe := GinkgoT().TempDir()
		Expect(install(probe, nil, image("fw-1.bin", oldData, 1), oldData)).To(BeFalse())
		Expect(install(probe, func(p string) { seen = append(seen, p) }, image("fw-2.bin", newData, 2), newData)).To(BeFalse())
		slot, at := "", 0
		for i, p := range seen {
			if rest, ok := strings.CutPrefix(p, "install:slot-"); ok && strings.Contains(rest, ":page@") && cut < 0 {
				cut = i + 1
				slot = "slot-" + rest[:1]
				at = len(newData) / store.Page / 2 * store.Page
				cut += at/store.Page - 1
			}
		}
		Expect(cut).To(BeNumerically(">", 0), "crash points %v", seen)
		seen = nil
		Expect(install(dir, crashAt(cut, &seen), image("fw-2.bin", newData, 2), newData)).To(BeTrue())
		Expect(seen[cut-1]).To(HaveSuffix(fmt.Sprintf(":page@%d", at)))
		tmp := filepath.Join(dir, "."+slot+".bin.tmp-install")
		left, err := os.ReadFile(tmp)
		Expect(err).NotTo(HaveOccurred(), "the cut left a half-programmed slot file")
		Expect(left).To(Equal(newData[:at]))
		s, err := store.Open(dir, "ECU-1", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(tmp).NotTo(BeAnExistingFile())
		Expect(s.ActiveWhole()).To(BeTrue())
		img, data, err := s.ReadActive()
		Expect(err).NotTo(HaveOccurred())
		Expect(img.Name).To(Equal("fw-1.bin"))
		Expect(data).To(Equal(oldData))
	})

	Context("opened in place (a single-bank ECU without install_image.atomic)", func() {
		inPlace := func(dir string, crash store.CrashFunc, f func(*store.Store)) (crashed bool) {
			GinkgoHelper()
			defer func() {
				if r := recover(); r != nil {
					_, ok := r.(store.Crash)
					Expect(ok).To(BeTrue(), "unexpected panic %v", r)
					crashed = true
				}
			}()
			s, err := store.OpenInPlace(dir, "ECU-1", crash)
			Expect(err).NotTo(HaveOccurred())
			f(s)
			return false
		}
		var seen []string
		cutAt := func(match func(string) bool) store.CrashFunc {
			seen = nil
			return func(p string) {
				seen = append(seen, p)
				if match(p) {
					panic(store.Crash{Point: p})
				}
			}
		}

		It("overwrites its one image area at install: a cut between two pages boots a mix of old and new bytes", func() {
			at, active := 4*store.Page, ""
			Expect(inPlace(dir, cutAt(func(p string) bool { return strings.HasSuffix(p, fmt.Sprintf(":page@%d", at)) }), func(s *store.Store) {
				Expect(s.InPlace()).To(BeTrue())
				active = s.State().Active
				Expect(s.Install(image("fw-2.bin", newData, 2), newData)).To(Succeed())
			})).To(BeTrue())
			Expect(seen[len(seen)-1]).To(Equal(fmt.Sprintf("install:slot-%s:page@%d", active, at)), "the active slot, not the other")
			s, err := store.OpenInPlace(dir, "ECU-1", nil)
			Expect(err).NotTo(HaveOccurred(), "it boots whatever its image area holds")
			Expect(s.ActiveWhole()).To(BeFalse())
			img, data, err := s.ReadActive()
			Expect(err).NotTo(HaveOccurred())
			Expect(img.Name).To(Equal("fw-1.bin"), "the state still names the old image")
			Expect(data[:at]).To(Equal(newData[:at]))
			Expect(data[at:]).To(Equal(oldData[at:]))
			// the A/B store refuses to boot it: neither slot is whole
			_, err = store.Open(dir, "ECU-1", nil)
			Expect(err).To(MatchError(ContainSubstring("neither image slot holds a whole image")))
		})

		It("programs the blocks of an image as they arrive; the A/B store keeps them out of its slots", func() {
			Expect(inPlace(dir, nil, func(s *store.Store) {
				Expect(s.ProgramBlock(0, newData[:100])).To(Succeed())
				Expect(s.ActiveWhole()).To(BeFalse())
			})).To(BeFalse())
			d := GinkgoT().TempDir()
			Expect(install(d, nil, image("fw-1.bin", oldData, 1), oldData)).To(BeFalse())
			s, err := store.Open(d, "ECU-1", nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.ProgramBlock(0, newData[:100])).To(Succeed())
			Expect(s.ActiveWhole()).To(BeTrue())
		})

		It("rewrites its state file in place: a cut in the middle leaves a state it cannot boot from", func() {
			Expect(inPlace(dir, cutAt(func(p string) bool { return p == "boot:torn" }), func(s *store.Store) {
				Expect(s.Update("boot", func(st *store.State) error { st.Boots++; return nil })).To(Succeed())
			})).To(BeTrue())
			_, err := store.OpenInPlace(dir, "ECU-1", nil)
			Expect(err).To(MatchError(ContainSubstring("state file")))
		})
	})

	It("keeps metadata inside its directory and stages resumable transfers", Label("std:send_metadata_primary#3"), func() {
		s, err := store.Open(dir, "ECU-1", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.PutMeta("director/1.root.json", []byte("{}"))).To(Succeed())
		Expect(s.ListMeta("director")).To(Equal([]string{"director/1.root.json"}))
		Expect(s.PutMeta("../escape.json", []byte("x"))).To(MatchError(ContainSubstring("not a clean relative path")))
		sf, err := s.Stage("image/fw-2.bin")
		Expect(err).NotTo(HaveOccurred())
		Expect(sf.WriteAt([]byte("abc"), 0)).To(Succeed())
		Expect(sf.WriteAt([]byte("x"), 10)).To(MatchError(ContainSubstring("gap")))
		Expect(sf.Close()).To(Succeed())
		sf, err = s.Stage("image/fw-2.bin")
		Expect(err).NotTo(HaveOccurred())
		Expect(sf.Len()).To(Equal(int64(3)))
		Expect(sf.WriteAt([]byte("def"), 3)).To(Succeed())
		Expect(sf.Bytes()).To(Equal([]byte("abcdef")))
	})

	It("keeps a detected attack once per check until the next nonce, durably, and writes nothing for one already listed", func() {
		var points []string
		s, err := store.Open(dir, "ECU-1", func(p string) { points = append(points, p) })
		Expect(err).NotTo(HaveOccurred())
		rate := store.AttackRecord{Check: check.PoufRateLimit, Attack: check.DenialOfService, Detail: "more than 200 requests in 1s"}
		added, err := s.AddAttack(rate, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(added).To(BeTrue())
		Expect(points).To(ContainElement("attack:after"), "a durable step")
		writes := len(points)
		for range 1000 { // a flood's busy answers
			added, err = s.AddAttack(rate, 2)
			Expect(err).NotTo(HaveOccurred())
			Expect(added).To(BeFalse())
		}
		Expect(points).To(HaveLen(writes), "no write for a check already listed")
		// reported, it is still listed until the next nonce drops it; a
		// hit after the report is the next report's (the flood goes on
		// after the Primary read the report): one write, then none
		_, err = s.NextReport("ECU-1", func(st store.State) (time.Time, []byte) { return st.LatestTime, st.Nonce })
		Expect(err).NotTo(HaveOccurred())
		Expect(s.State().Attacks[0].Reported).To(BeTrue())
		writes = len(points)
		Expect(s.AddAttack(rate, 2)).To(BeTrue())
		Expect(s.AddAttack(rate, 2)).To(BeFalse())
		Expect(points[writes:]).To(Equal([]string{"attack:before", "attack:torn", "attack:after"}), "one durable step")
		Expect(s.State().Attacks[0].Reported).To(BeFalse(), "the next report carries it again")
		Expect(s.AddAttack(store.AttackRecord{Check: check.PoufTransferSize}, 2)).To(BeTrue())
		Expect(s.AddAttack(store.AttackRecord{Check: check.VerifyImageHashes}, 2)).To(BeFalse(), "at most limit entries")
		again, err := store.Open(dir, "ECU-1", nil)
		Expect(err).NotTo(HaveOccurred())
		var kept []check.ID
		for _, a := range again.State().Attacks {
			kept = append(kept, a.Check)
		}
		Expect(kept).To(Equal([]check.ID{check.PoufRateLimit, check.PoufTransferSize}))
	})

	It("refuses another ECU's state directory", func() {
		_, err := store.Open(dir, "ECU-2", nil)
		Expect(err).To(MatchError(ContainSubstring(`holds the state of ECU "ECU-1"`)))
	})
})
