package verify_test

import (
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
