package reports_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

const pemKey = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPa1nTeStKeYMaTeRiAlNoTrEaL0123456789abcdef\n-----END PRIVATE KEY-----"

// The secret's body: it must appear in no output.
const keyBody = "MC4CAQAwBQYDK2VwBCIEIPa1nTeStKeYMaTeRiAlNoTrEaL"

type writer struct {
	name  string
	write func(io.Writer, *reports.Report) error
}

var writers = []writer{
	{"json", reports.WriteJSON},
	{"junit", reports.WriteJUnit},
	{"html", func(w io.Writer, r *reports.Report) error { return reports.WriteHTML(w, r) }},
	{"summary", reports.WriteSummary},
}

// leaky puts key material everywhere a runner might copy it to.
func leaky() *reports.Report {
	r := sample.Report(1)
	r.Results[0].Description = "key dump: " + pemKey
	r.Results[0].Detail = "signer failed with " + pemKey + " in hand"
	r.Results[0].Detected = pemKey
	r.Results[1].Scenario = "x" + strings.ReplaceAll(pemKey, "\n", "") // a summary row too
	r.Results[0].Sequence[0].Label = "leak " + pemKey
	r.Results[0].Sequence[1].Fault = `{"keytype":"ed25519","keyval":{"public":"abcd","private":"` + keyBody + `"}}`
	r.Results[0].VersionReport = json.RawMessage(`{"signed":{"ecu_identifier":"ECM-0001","note":"` +
		strings.ReplaceAll(pemKey, "\n", `\n`) + `"},"keys":[{"keyval":{"public":"abcd","private":"` + keyBody + `"}}]}`)
	r.Results[0].DirectorRecord = json.RawMessage(`{"privateKey":"` + keyBody + `","ok":true}`)
	r.Summarize()
	return r
}

var _ = Describe("private key material", func() {
	for _, w := range writers {
		It("is redacted from the "+w.name+" output, which still renders", func() {
			r := leaky()
			before, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			var buf bytes.Buffer
			Expect(w.write(&buf, r)).To(Succeed())
			out := buf.String()
			Expect(out).NotTo(ContainSubstring("PRIVATE KEY-----"))
			Expect(out).NotTo(ContainSubstring(keyBody))
			Expect(out).To(ContainSubstring("[redacted private key]"))
			after, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(after)).To(Equal(string(before)), "the caller's report is not changed")
		})
	}

	It("keeps the rest of a raw document and leaves clean documents alone", func() {
		red, err := reports.Redact(leaky())
		Expect(err).NotTo(HaveOccurred())
		var vr map[string]any
		Expect(json.Unmarshal(red.Results[0].VersionReport, &vr)).To(Succeed())
		Expect(vr["signed"]).To(HaveKeyWithValue("ecu_identifier", "ECM-0001"))
		Expect(vr["signed"]).To(HaveKeyWithValue("note", "[redacted private key]"))
		key := vr["keys"].([]any)[0].(map[string]any)["keyval"].(map[string]any)
		Expect(key).To(HaveKeyWithValue("public", "abcd"))
		Expect(key).To(HaveKeyWithValue("private", "[redacted private key]"))
		Expect(string(red.Results[0].DirectorRecord)).To(Equal(`{"ok":true,"privateKey":"[redacted private key]"}`))
		clean := sample.Report(0)
		red, err = reports.Redact(clean)
		Expect(err).NotTo(HaveOccurred())
		Expect(red.Results[3].VersionReport).To(Equal(clean.Results[3].VersionReport))
		Expect(red.Results[3].Detail).To(Equal(clean.Results[3].Detail))
	})

	It("redacts a cut-off PEM block to the end of the text", func() {
		Expect(reports.RedactText("a -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI")).To(Equal("a [redacted private key]"))
		Expect(reports.RedactText("sha256 " + strings.Repeat("ab", 32))).To(Equal("sha256 " + strings.Repeat("ab", 32)))
	})

	for _, w := range writers {
		It("makes the "+w.name+" writer refuse what redaction cannot recognise", func() {
			r := sample.Report(0)
			r.Results[2].Detected = "fragment: BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjE" // every writer shows it
			var buf bytes.Buffer
			Expect(w.write(&buf, r)).To(MatchError(reports.ErrSecret))
			Expect(buf.Len()).To(BeZero(), "nothing is written")
		})
	}

	It("makes WriteAll write no file at all", func() {
		dir := GinkgoT().TempDir()
		r := sample.Report(0)
		r.Results[0].Sequence[0].Label = "BEGIN RSA PRIVATE KEY"
		Expect(reports.WriteAll(dir, r)).To(MatchError(reports.ErrSecret))
		entries, err := readDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(BeEmpty())
	})
})
