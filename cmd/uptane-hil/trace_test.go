package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

var _ = Describe("trace", func() {
	matrix := func() *std.Matrix {
		GinkgoHelper()
		list, err := scenarios.LoadAll("../../scenarios")
		Expect(err).NotTo(HaveOccurred())
		return scenarios.Trace(list, "../..")
	}

	It("prints every statement with what covers it, and the counts of the matrix, exit 0 when the trace has no problem", func() {
		var out, errOut bytes.Buffer
		code := traceCmd([]string{"--src", "../..", "../../scenarios"}, &out, &errOut)
		Expect(errOut.String()).To(BeEmpty())
		Expect(code).To(Equal(0))
		m := matrix()
		Expect(out.String()).To(MatchRegexp(`(?m)^check_root#3\s+SHALL\s+L852\s+\w+\s+.*specs uptane/verify/checks_test\.go:\d+`))
		Expect(out.String()).To(MatchRegexp(`(?m)^check_timestamp#4\s+SHALL\*\s+L866\s+SC\s+scenarios freeze-director-timestamp`))
		Expect(out.String()).To(MatchRegexp(`(?m)^download_image#8\s+SHALL\s+L761\s+NA\s+n/a: `))
		rows := regexp.MustCompile(`(?m)^[a-z_]+#\d+ `).FindAllString(out.String(), -1)
		Expect(rows).To(HaveLen(213))
		s := m.Total.Shall
		want := []string{"SHALL", strconv.Itoa(s.SC), strconv.Itoa(s.SP), strconv.Itoa(s.UT), strconv.Itoa(s.NI), strconv.Itoa(s.NA), "171"}
		Expect(out.String()).To(MatchRegexp(`(?m)^` + strings.Join(want, `\s+`) + `\s*$`))
		Expect(out.String()).To(MatchRegexp(`(?m)^check_root\s+\d+/0\s+\d+/0\s+\d+/0\s+\d+/0\s+\d+/0\s+7/0\s*$`))
		Expect(out.String()).To(ContainSubstring("Verification procedures"))
	})

	It("--counts prints only the counts, --class only the statements of those classes", func() {
		var out, errOut bytes.Buffer
		Expect(traceCmd([]string{"--src", "../..", "--counts", "../../scenarios"}, &out, &errOut)).To(Equal(0))
		Expect(out.String()).NotTo(ContainSubstring("check_root#3"))
		Expect(out.String()).To(MatchRegexp(`(?m)^SHALL\s`))
		out.Reset()
		Expect(traceCmd([]string{"--src", "../..", "--class", "NA", "../../scenarios"}, &out, &errOut)).To(Equal(0))
		rows := regexp.MustCompile(`(?m)^[a-z_]+#\d+ .*$`).FindAllString(out.String(), -1)
		Expect(rows).To(HaveLen(m(matrix()).NA))
		for _, r := range rows {
			Expect(r).To(MatchRegexp(`\sNA\s`))
		}
		out.Reset()
		Expect(traceCmd([]string{"--src", "../..", "--class", "NI", "--text", "../../scenarios"}, &out, &errOut)).To(Equal(0))
		Expect(out.String()).To(MatchRegexp(`(?m)^director_repository#12\s+SHALL\s+L599\s+NI\s+open \(issue 15\).*\n    .*the Director SHALL take into account \*dependencies\* and \*conflicts\*`))
		Expect(traceCmd([]string{"--src", "../..", "--class", "XX"}, &out, &errOut)).To(Equal(2))
		Expect(errOut.String()).To(ContainSubstring(`--class: "XX"`))
	})

	It("--json writes the matrix: rows, counts per section and group, and no problems", func() {
		var out, errOut bytes.Buffer
		Expect(traceCmd([]string{"--src", "../..", "--json", "../../scenarios"}, &out, &errOut)).To(Equal(0))
		var got std.Matrix
		Expect(json.Unmarshal(out.Bytes(), &got)).To(Succeed())
		Expect(got.Rows).To(HaveLen(213))
		Expect(got.Total).To(Equal(matrix().Total))
		Expect(got.Groups).To(HaveLen(7))
		Expect(got.Problems).To(BeEmpty())
	})

	It("exits 1 and names the problem when a scenario file names a statement the trace then finds covered though open", func() {
		var out, errOut bytes.Buffer
		// an open statement (uptane/std/open.yaml, whichever is first while
		// the list lasts): a scenario that names it covers it, and the open
		// entry is then stale
		open, err := std.OpenList()
		Expect(err).NotTo(HaveOccurred())
		if len(open) == 0 {
			Skip("uptane/std/open.yaml is empty: no open statement left to cover")
		}
		id := open[0].ID
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(dir+"/x.yaml", []byte(`name: xx
description: d
attack: freeze
standard: [build_time]
transport: backend-link
defence: [check_timestamp.expiry]
statements: ['`+string(id)+`']
steps:
  - campaign: {release: 2}
goal:
  installed: release:2
`), 0o644)).To(Succeed())
		Expect(traceCmd([]string{"--src", "../..", "--counts", dir}, &out, &errOut)).To(Equal(1))
		Expect(errOut.String()).To(ContainSubstring(string(id) + " is covered now (SC) but still listed in uptane/std/open.yaml"))
	})
})

// m returns the SHALL plus SHOULD counts of a matrix.
func m(x *std.Matrix) std.Counts {
	a, b := x.Total.Shall, x.Total.Should
	return std.Counts{SC: a.SC + b.SC, SP: a.SP + b.SP, UT: a.UT + b.UT, NI: a.NI + b.NI, NA: a.NA + b.NA, None: a.None + b.None, Total: a.Total + b.Total}
}
