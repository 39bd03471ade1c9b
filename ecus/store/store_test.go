package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/store"
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

	It("leaves half of the data in a temporary file at a torn point, which the next Open removes", func() {
		var seen []string
		torn := -1
		probe := GinkgoT().TempDir()
		Expect(install(probe, nil, image("fw-1.bin", oldData, 1), oldData)).To(BeFalse())
		Expect(install(probe, func(p string) { seen = append(seen, p) }, image("fw-2.bin", newData, 2), newData)).To(BeFalse())
		slot := ""
		for i, p := range seen {
			if strings.HasPrefix(p, "install:slot-") && strings.HasSuffix(p, ":torn") {
				torn, slot = i+1, strings.TrimSuffix(strings.TrimPrefix(p, "install:"), ":torn")
			}
		}
		Expect(torn).To(BeNumerically(">", 0), "crash points %v", seen)
		seen = nil
		Expect(install(dir, crashAt(torn, &seen), image("fw-2.bin", newData, 2), newData)).To(BeTrue())
		tmp := filepath.Join(dir, "."+slot+".bin.tmp-torn")
		left, err := os.ReadFile(tmp)
		Expect(err).NotTo(HaveOccurred(), "the cut left a half-written slot file")
		Expect(left).To(Equal(newData[:len(newData)/2]))
		s, err := store.Open(dir, "ECU-1", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(tmp).NotTo(BeAnExistingFile())
		img, data, err := s.ReadActive()
		Expect(err).NotTo(HaveOccurred())
		Expect(img.Name).To(Equal("fw-1.bin"))
		Expect(data).To(Equal(oldData))
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

	It("refuses another ECU's state directory", func() {
		_, err := store.Open(dir, "ECU-2", nil)
		Expect(err).To(MatchError(ContainSubstring(`holds the state of ECU "ECU-1"`)))
	})
})
