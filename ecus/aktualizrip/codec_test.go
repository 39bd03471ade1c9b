package aktualizrip_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
)

func unhex(s string) []byte {
	GinkgoHelper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	Expect(err).NotTo(HaveOccurred())
	return b
}

// everyMessage is one filled-in value of each alternative this package
// carries.
func everyMessage() []ip.Message {
	big := bytes.Repeat([]byte("x"), 70000) // a long-form length of 3 bytes
	return []ip.Message{
		&ip.GetInfoRequest{},
		&ip.GetInfoResponse{ECUSerial: "secondary-ecu-1", HardwareID: "secondary-hw", KeyType: ip.KeyED25519, Key: []byte(strings.Repeat("AB", 32))},
		&ip.ManifestRequest{},
		&ip.ManifestResponse{JSON: []byte(`{"signed":{}}`)},
		&ip.PutMetaRequest{ImageRoot: []byte("ir"), ImageTimestamp: []byte("it"), ImageSnapshot: []byte("is"), ImageTargets: []byte("itg"), DirectorRoot: []byte("dr"), DirectorTargets: []byte("dt")},
		&ip.PutMetaResponse{Failure: true},
		&ip.SendFirmwareRequest{Firmware: big},
		&ip.SendFirmwareResponse{},
		&ip.InstallRequest{Hash: "fw-2.bin"},
		&ip.InstallResponse{Result: ip.ResultInstallFailed},
		&ip.UploadDataRequest{Data: []byte{0, 1, 2, 0xff}},
		&ip.UploadDataResponse{Result: ip.ResultDownloadFailed, Description: "too long"},
		&ip.PutMetaRequest2{Image: []ip.MetaJSON{{Role: "root", JSON: []byte("{}")}, {Role: "targets", JSON: big}}, Director: []ip.MetaJSON{{Role: "root", JSON: []byte("{1}")}}},
		&ip.PutMetaResponse2{Result: ip.ResultValidationFailed, Description: "Failed to update Image repo metadata"},
		&ip.InstallResponse2{Result: ip.ResultOK},
		&ip.VersionRequest{Version: 2},
		&ip.VersionResponse{Version: 300},
		&ip.RootVersionRequest{Repo: ip.RepoImage},
		&ip.RootVersionResponse{Version: -1},
		&ip.PutRootRequest{Repo: ip.RepoDirector, JSON: []byte(`{"signed":{"version":2}}`)},
		&ip.PutRootResponse{Result: ip.ResultUnknown, Description: "d"},
	}
}

var _ = Describe("the DER codec of the IP Secondary message set", func() {
	It("encodes the messages seen on the wire byte for byte", func() {
		Expect(ip.Encode(&ip.GetInfoRequest{})).To(Equal(unhex("A0 02 30 00")))
		Expect(ip.Encode(&ip.VersionRequest{Version: 2})).To(Equal(unhex("B1 05 30 03 02 01 02")))
		Expect(ip.Encode(&ip.VersionResponse{Version: 2})).To(Equal(unhex("B2 05 30 03 02 01 02")))
		// manifestReq [2], rootVerReq [19] {image(1)}, result unknown(-1).
		Expect(ip.Encode(&ip.ManifestRequest{})).To(Equal(unhex("A2 02 30 00")))
		Expect(ip.Encode(&ip.RootVersionRequest{Repo: ip.RepoImage})).To(Equal(unhex("B3 05 30 03 0A 01 01")))
		Expect(ip.Encode(&ip.InstallResponse{Result: ip.ResultUnknown})).To(Equal(unhex("A9 05 30 03 0A 01 FF")))
	})

	It("decodes what it encodes, for every alternative, with minimal INTEGER and length encodings", func() {
		for _, m := range everyMessage() {
			b := ip.Encode(m)
			got, err := ip.Decode(b, 1<<20)
			Expect(err).NotTo(HaveOccurred(), "%s", m.Kind())
			Expect(got).To(Equal(m), "%s", m.Kind())
			Expect(b[0]).To(Equal(0xa0|byte(m.Kind())), "%s", m.Kind())
		}
		Expect(ip.Encode(&ip.VersionResponse{Version: 128})).To(HaveSuffix(string(unhex("02 02 00 80"))))
		Expect(ip.Encode(&ip.VersionResponse{Version: -129})).To(HaveSuffix(string(unhex("02 02 FF 7F"))))
	})

	It("skips extension additions (the ... of every type) inside a SEQUENCE", func() {
		// versionResp {version 2, <an unknown OCTET STRING>}
		m, err := ip.Decode(unhex("B2 08 30 06 02 01 02 04 01 AA"), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(m).To(Equal(&ip.VersionResponse{Version: 2}))
	})

	It("reads messages back to back from a stream, each delimited only by its own length", func() {
		var stream bytes.Buffer
		msgs := everyMessage()
		for _, m := range msgs {
			stream.Write(ip.Encode(m))
		}
		for _, m := range msgs {
			got, err := ip.ReadMessage(&stream, 1<<20)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(m))
		}
		_, err := ip.ReadMessage(&stream, 0)
		Expect(err).To(MatchError(io.EOF))
	})

	DescribeTable("refuses bad input with an error naming the element and the offset",
		func(in string, where string, reason string) {
			_, err := ip.Decode(unhex(in), 64)
			var de *ip.DecodeError
			Expect(errors.As(err, &de)).To(BeTrue(), "%v", err)
			Expect(de.Where).To(Equal(where))
			Expect(de.Reason).To(ContainSubstring(reason))
		},
		Entry("empty", "", "message", "truncated"),
		Entry("truncated outer", "B1 05 30 03 02 01", "message", "truncated"),
		Entry("bytes after the message", "A0 02 30 00 00", "message", "bytes after"),
		Entry("a universal tag outside", "30 02 30 00", "message", "not a constructed context tag"),
		Entry("a primitive context tag", "80 02 30 00", "message", "not a constructed context tag"),
		Entry("an unknown alternative", "BF 1F 02 30 00", "message", "multi-byte tag"),
		Entry("alternative 23", "B7 02 30 00", "message", "not supported"),
		Entry("an OSTree alternative", "AC 02 30 00", "message", "not supported"),
		Entry("indefinite length", "B1 80 30 03 02 01 02 00 00", "message", "indefinite"),
		Entry("no SEQUENCE inside", "B1 03 02 01 02", "versionReq.", "want 0x30"),
		Entry("two elements inside", "B1 07 30 03 02 01 02 30 00", "versionReq", "more than one element"),
		Entry("wrong inner tag", "B1 05 30 03 04 01 02", "versionReq.version", "tag 0x04, want 0x02"),
		Entry("missing field", "B2 02 30 00", "versionResp.version", "missing"),
		Entry("inner length past its parent", "B1 05 30 03 02 05 02", "versionReq.version", "runs past"),
		Entry("non-minimal integer", "B1 06 30 04 02 02 00 02", "versionReq.version", "not minimally encoded"),
		Entry("an integer over 32 bits", "B1 09 30 07 02 05 01 00 00 00 00", "versionReq.version", "does not fit"),
		Entry("non-DER long length", "B1 06 30 81 03 02 01 02", "versionReq.", "not DER"),
		Entry("oversized", "B1 81 80"+strings.Repeat("00", 128), "message", "more than the limit of 64"),
	)

	It("refuses an oversized message from its length alone, before reading or allocating its contents", func() {
		// announces 2^32-1 bytes, sends 3
		r := bytes.NewReader(unhex("AE 84 FF FF FF FF 30 00 00"))
		_, err := ip.ReadRaw(r, 1<<20)
		Expect(err).To(MatchError(ContainSubstring("more than the limit of 1048576")))
		Expect(r.Len()).To(Equal(3), "the contents were not read")
	})

	It("reports a message cut short on the stream as unexpected EOF, not a clean close", func() {
		_, err := ip.ReadRaw(bytes.NewReader(unhex("B1 05 30 03")), 0)
		Expect(err).To(MatchError(io.ErrUnexpectedEOF))
		_, err = ip.ReadRaw(bytes.NewReader(unhex("B1")), 0)
		Expect(err).To(MatchError(io.ErrUnexpectedEOF))
	})

	It("bounds the metadata objects of putMetaReq2", func() {
		var c []ip.MetaJSON
		for range ip.MaxCollection + 1 {
			c = append(c, ip.MetaJSON{Role: "r", JSON: []byte("{}")})
		}
		_, err := ip.Decode(ip.Encode(&ip.PutMetaRequest2{Image: c}), 0)
		Expect(err).To(MatchError(ContainSubstring("putMetaReq2.imageRepo")))
		Expect(err).To(MatchError(ContainSubstring("more than 16 metadata objects")))
	})
})
