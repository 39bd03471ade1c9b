package verify

// (ginkgo is not dot-imported here: this package has a Pending of its own)

import (
	"crypto/sha256"
	"crypto/sha512"

	g "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

var _ = g.Describe("length and hashes of a metadata file", func() {
	data := []byte("snapshot")
	s256, s512 := sha256.Sum256(data), sha512.Sum512(data)

	g.It("names the same mismatching hash every time (one seed replays a report byte for byte)", func() {
		bad := &metadata.MetaFiles{Length: int64(len(data)), Hashes: map[string]metadata.HexBytes{
			"sha256": make([]byte, 32), "sha512": make([]byte, 64)}}
		for range 50 { // map order changes from one range to the next
			Expect(verifyLengthHashes(bad, data)).To(MatchError(ContainSubstring("sha256")))
		}
	})

	g.It("accepts matching hashes and refuses a wrong length or one wrong hash", func() {
		ok := &metadata.MetaFiles{Length: int64(len(data)), Hashes: map[string]metadata.HexBytes{"sha256": s256[:], "sha512": s512[:]}}
		Expect(verifyLengthHashes(ok, data)).To(Succeed())
		short := *ok
		short.Length = 3
		Expect(verifyLengthHashes(&short, data)).To(HaveOccurred())
		one := &metadata.MetaFiles{Length: int64(len(data)), Hashes: map[string]metadata.HexBytes{"sha256": s256[:], "sha512": make([]byte, 64)}}
		Expect(verifyLengthHashes(one, data)).To(MatchError(ContainSubstring("sha512")))
	})
})
