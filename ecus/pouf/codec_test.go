package pouf_test

import (
	"bytes"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("file paths", func() {
	It("builds and parses metadata and image paths", func() {
		p, err := pouf.MetadataPath("director", "5.targets.json")
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(Equal("meta/director/5.targets.json"))
		pp, err := pouf.ParsePath(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(pp).To(Equal(pouf.Path{Repo: "director", Name: "5.targets.json"}))
		Expect(pp.IsImage()).To(BeFalse())
		Expect(pp.String()).To(Equal(p))

		for _, name := range []string{"timestamp.json", "3.snapshot.json", "1.root.json", "2.role%2Fa.json", "7.team-a_b.json"} {
			_, err := pouf.MetadataPath("image", name)
			Expect(err).NotTo(HaveOccurred(), name)
		}
		p, err = pouf.ImagePath("firmware/brake-2.1.bin")
		Expect(err).NotTo(HaveOccurred())
		pp, err = pouf.ParsePath(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(pp).To(Equal(pouf.Path{Target: "firmware/brake-2.1.bin"}))
		Expect(pp.String()).To(Equal("image/firmware/brake-2.1.bin"))
	})
	DescribeTable("refuses anything else",
		func(path string) {
			_, err := pouf.ParsePath(path)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(HavePrefix("pouf: file path"))
		},
		Entry("empty", ""),
		Entry("unknown prefix", "etc/passwd"),
		Entry("unknown repository", "meta/other/1.root.json"),
		Entry("no file", "meta/director"),
		Entry("nested metadata", "meta/director/a/1.root.json"),
		Entry("not json", "meta/director/1.root.xml"),
		Entry("only .json", "meta/director/.json"),
		Entry("leading zero version", "meta/director/01.root.json"),
		Entry("version 0", "meta/director/0.root.json"),
		Entry("no role", "meta/director/5..json"),
		Entry("dot-dot role", "meta/director/...json"),
		Entry("bad escape", "meta/director/1.a%2.json"),
		Entry("space", "meta/director/1.a b.json"),
		Entry("traversal in an image", Label("std:metadata_filename_rules#4"), "image/../secrets"),
		Entry("empty target", "image/"),
		Entry("absolute target", "image//x"),
		Entry("too long", "image/"+strings.Repeat("a", pouf.MaxPath)),
	)
})

var _ = Describe("routine results", func() {
	It("round-trips a passed and a failed result", func() {
		for _, r := range []pouf.Result{
			{Status: pouf.Passed},
			{Status: pouf.Passed, Data: []byte{1}},
			{Status: pouf.Failed, Check: check.TimestampExpiry, Attack: check.Freeze, Detail: "expired at 2030-01-01T00:00:00Z"},
			{Status: pouf.Failed, Detail: "flash write failed"},
		} {
			b, err := r.Encode()
			Expect(err).NotTo(HaveOccurred())
			got, err := pouf.ParseResult(b)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(r))
		}
		b, _ := pouf.Result{Status: pouf.Failed, Check: check.PoufTransferSize, Attack: check.EndlessData, Detail: "é"}.Encode()
		Expect(b).To(Equal(append([]byte{0x01, 18}, append([]byte("pouf.transfer_size"), append([]byte{12}, append([]byte("endless-data"), 0x00, 0x02, 0xC3, 0xA9)...)...)...)))
	})
	It("builds the result of a check error, cleaning the detail", func() {
		err := check.Fail(check.VerifyImageHashes, "director", "targets", "sha256 differs\nagain").OnECU("ecu-1")
		r := pouf.FailedResult(errors.Join(errors.New("verify"), err))
		Expect(r.Check).To(Equal(check.VerifyImageHashes))
		Expect(r.Attack).To(Equal(check.ArbitrarySoftware))
		Expect(r.Detail).NotTo(ContainSubstring("\n"))
		_, encErr := r.Encode()
		Expect(encErr).NotTo(HaveOccurred())
		long := pouf.FailedResult(errors.New(strings.Repeat("ü", 2000)))
		Expect(len(long.Detail)).To(BeNumerically("<=", pouf.MaxDetail))
		_, encErr = long.Encode()
		Expect(encErr).NotTo(HaveOccurred())
	})
	DescribeTable("refuses malformed records",
		func(b []byte) {
			_, err := pouf.ParseResult(b)
			Expect(err).To(HaveOccurred())
		},
		Entry("empty", []byte{}),
		Entry("unknown status", []byte{0x02}),
		Entry("truncated check", []byte{0x01, 5, 'a'}),
		Entry("truncated detail", []byte{0x01, 0, 0, 0x00, 0x05, 'a'}),
		Entry("trailing bytes", []byte{0x01, 0, 0, 0x00, 0x00, 0xFF}),
		Entry("upper-case check", []byte{0x01, 1, 'A', 1, 'a', 0, 0}),
		Entry("check without attack", []byte{0x01, 1, 'a', 0, 0, 0}),
		Entry("control character", []byte{0x01, 0, 0, 0, 1, '\n'}),
		Entry("invalid UTF-8", []byte{0x01, 0, 0, 0, 1, 0xFF}),
		Entry("too much data", append([]byte{0x00}, bytes.Repeat([]byte{1}, pouf.MaxResultData+1)...)),
	)
})

var _ = Describe("identity values", func() {
	It("encodes time, verification, sizes and keys, and refuses bad values", func() {
		t := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
		got, err := pouf.ParseTime(pouf.EncodeTime(t))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(t))
		_, err = pouf.ParseTime([]byte{1, 2, 3})
		Expect(err).To(HaveOccurred())
		_, err = pouf.ParseTime(bytes.Repeat([]byte{0xFF}, 8))
		Expect(err).To(HaveOccurred())

		for _, m := range []string{"full", "partial"} {
			b, err := pouf.EncodeVerification(m)
			Expect(err).NotTo(HaveOccurred())
			Expect(pouf.ParseVerification(b)).To(Equal(m))
		}
		_, err = pouf.ParseVerification([]byte{3})
		Expect(err).To(HaveOccurred())

		Expect(pouf.ParseSize(pouf.EncodeSize(1 << 20))).To(Equal(uint32(1 << 20)))
		_, err = pouf.ParseIdentifier([]byte("ecu 1"), 64)
		Expect(err).To(HaveOccurred())
		_, err = pouf.ParseIdentifier(bytes.Repeat([]byte("a"), 65), 64)
		Expect(err).To(HaveOccurred())
		Expect(pouf.ValidNonce(nil)).NotTo(Succeed())
		Expect(pouf.ValidNonce(make([]byte, 65))).NotTo(Succeed())

		k := &metadata.Key{Type: "ed25519", Scheme: "ed25519", Value: metadata.KeyVal{PublicKey: "ab12"}}
		b, err := pouf.EncodeKey(k)
		Expect(err).NotTo(HaveOccurred())
		back, err := pouf.ParseKey(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.Type).To(Equal(k.Type))
		Expect(back.Value.PublicKey).To(Equal(k.Value.PublicKey))
		_, err = pouf.ParseKey([]byte(`{"keytype":"ed25519"}`))
		Expect(err).To(HaveOccurred())
	})
	It("numbers CAN identifiers for 11-bit physical and 29-bit normal fixed addressing", func() {
		req, resp, err := pouf.PhysicalIDs(2)
		Expect(err).NotTo(HaveOccurred())
		Expect([]uint32{req, resp}).To(Equal([]uint32{0x7E2, 0x7EA}))
		_, _, err = pouf.PhysicalIDs(8)
		Expect(err).To(HaveOccurred())
		req, resp = pouf.NormalFixedIDs(0x10)
		Expect([]uint32{req, resp}).To(Equal([]uint32{0x18DA10F1, 0x18DAF110}))
	})
})
