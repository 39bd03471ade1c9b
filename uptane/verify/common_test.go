package verify_test

import (
	"bytes"
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// edit decodes signed metadata, lets f change it as plain JSON, and encodes
// it again (the signatures no longer match: parsing must not care).
func edit(data []byte, f func(doc, signed map[string]any)) []byte {
	GinkgoHelper()
	var doc map[string]any
	Expect(json.Unmarshal(data, &doc)).To(Succeed())
	signed, _ := doc["signed"].(map[string]any)
	f(doc, signed)
	b, err := json.Marshal(doc)
	Expect(err).NotTo(HaveOccurred())
	return b
}

var _ = Describe("the common structure of metadata ({#common_metadata})", func() {
	var files map[string][]byte
	BeforeEach(func() {
		v := newVehicle(1)
		files = map[string][]byte{
			meta.Root:      v.dir.files["1.root.json"],
			meta.Timestamp: v.dir.files["timestamp.json"],
			meta.Snapshot:  v.dir.files[meta.VersionedName(v.dir.snapshot.Signed.Version, meta.Snapshot)],
			meta.Targets:   v.dir.files[meta.VersionedName(v.dir.targets.Signed.Version, meta.Targets)],
		}
	})

	It("parses every role's file: a signed payload of type, expiry, version and role data, and its signatures", Label("std:common_metadata#2", "std:common_metadata#3", "std:common_metadata#5"), func() {
		for role, data := range files {
			Expect(data).NotTo(BeEmpty(), role)
			_, err := verify.ParseMetadata(data)
			Expect(err).NotTo(HaveOccurred(), role)
		}
	})

	DescribeTable("refuses a file without an attribute of the common structure, for every role",
		func(f func(doc, signed map[string]any)) {
			for role, data := range files {
				_, err := verify.ParseMetadata(edit(data, f))
				Expect(err).To(HaveOccurred(), "%s was accepted", role)
			}
		},
		Entry("no signed payload", Label("std:common_metadata#2", "std:common_metadata#5"), func(doc, _ map[string]any) { delete(doc, "signed") }),
		Entry("no signatures attribute", Label("std:common_metadata#2", "std:common_metadata#5"), func(doc, _ map[string]any) { delete(doc, "signatures") }),
		Entry("no type", Label("std:common_metadata#3", "std:common_metadata#5"), func(_, s map[string]any) { delete(s, "_type") }),
		Entry("no expiry", Label("std:common_metadata#3", "std:common_metadata#5"), func(_, s map[string]any) { delete(s, "expires") }),
		Entry("no version", Label("std:common_metadata#3", "std:common_metadata#5"), func(_, s map[string]any) { delete(s, "version") }),
		Entry("version 0", Label("std:common_metadata#3", "std:common_metadata#5"), func(_, s map[string]any) { s["version"] = 0 }),
	)
})

var _ = Describe("strings of metadata ({#meta_structures})", func() {
	It("are UTF-8 in Unicode Normalization Form C: a name in NFC parses, the same name decomposed (NFD) or invalid UTF-8 is refused, naming the string", Label("std:meta_structures#1"), func() {
		v := newVehicle(1)
		targets := v.img.files[meta.VersionedName(v.img.targets.Signed.Version, meta.Targets)]
		Expect(targets).NotTo(BeEmpty())
		with := func(name string) []byte {
			return edit(targets, func(_, s map[string]any) {
				ts := s["targets"].(map[string]any)
				for k, t := range ts {
					ts[name] = t
					delete(ts, k)
					break
				}
			})
		}
		_, err := verify.ParseMetadata(with("fw/caf\u00e9.bin"))
		Expect(err).NotTo(HaveOccurred())
		_, err = verify.ParseMetadata(with("fw/cafe\u0301.bin"))
		Expect(err).To(MatchError(ContainSubstring("is not in Unicode Normalization Form C")))
		Expect(err).To(MatchError(ContainSubstring(`"fw/cafe\u0301.bin"`)))
		bad := bytes.Replace(with("fw/cafe.bin"), []byte("cafe"), []byte("caf\xff"), 1)
		_, err = verify.ParseMetadata(bad)
		Expect(err).To(MatchError(ContainSubstring("not UTF-8: invalid byte 0xff")))
	})
})
