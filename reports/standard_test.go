package reports_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("StandardSections", func() {
	var s map[string]string
	BeforeEach(func() { s = reports.StandardSections(standardMD()) })

	It("extracts {#check_timestamp} with its four numbered steps and nothing after", func() {
		t := s["check_timestamp"]
		Expect(t).To(HavePrefix("#### How to check Timestamp metadata\n"))
		Expect(t).NotTo(ContainSubstring("{#"))
		for i, step := range []string{
			"1. Download up to Y number of bytes.",
			"2. Check that it has been signed by the threshold of unique keys",
			"3. Check that the version number of the previous Timestamp metadata file",
			"4. Check that the current (or latest securely attested) time is lower than the expiration timestamp in this Timestamp metadata file.",
		} {
			Expect(t).To(ContainSubstring("\n"+step), "step %d", i+1)
		}
		Expect(t).NotTo(ContainSubstring("Snapshot metadata {"))
		Expect(t).NotTo(ContainSubstring("How to check Snapshot metadata"))
		Expect(strings.TrimSpace(t)).To(HaveSuffix("(Checks for a freeze attack.)"))
	})

	It("includes subsections, and a subsection ends at its sibling", func() {
		m := s["construct_manifest_primary"]
		Expect(m).To(ContainSubstring("##### Vehicle version manifest\n"))
		Expect(m).To(ContainSubstring("##### ECU version report\n"))
		Expect(s["vehicle_version_manifest"]).NotTo(ContainSubstring("ECU version report\n"))
		Expect(s["full_verification"]).To(ContainSubstring("        1. Check that the release counter, if one is used"), "nested steps keep their indentation")
		Expect(s["full_verification"]).NotTo(ContainSubstring("How to check Root metadata"))
	})

	It("finds the section of every check the suite can name", func() {
		for _, c := range check.All {
			switch c.Section {
			case "in_vehicle", "pouf": // the project's own, not the Standard's
				continue
			}
			Expect(s).To(HaveKey(c.Section), "check %s", c.ID)
			Expect(s[c.Section]).NotTo(BeEmpty())
		}
	})

	It("ignores headings in fenced code and handles CRLF", func() {
		md := "# A {#a}\r\ntext a\r\n```\r\n# not a heading {#b}\r\n```\r\n# C {#c}\r\ntext c\r\n"
		got := reports.StandardSections([]byte(md))
		Expect(got).To(HaveLen(2))
		Expect(got["a"]).To(Equal("# A\ntext a\n```\n# not a heading {#b}\n```\n"))
		Expect(got["c"]).To(Equal("# C\ntext c\n"))
	})
})
