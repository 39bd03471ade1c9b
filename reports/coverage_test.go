package reports_test

import (
	"bytes"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/html"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

// cell is the trimmed text of an element.
func cell(n *html.Node) string { return strings.TrimSpace(text(n)) }

var _ = Describe("the Standard coverage of a run", func() {
	It("carries every statement with its class, the counts, and per statement the scenarios of the run that exercised it", func() {
		r := sample.Report(0)
		c := r.Coverage
		Expect(c).NotTo(BeNil())
		Expect(c.Rows).To(HaveLen(len(std.Statements())))
		Expect(c.Shall.Total).To(Equal(171))
		Expect(c.Should.Total).To(Equal(42))
		ran := map[string]bool{}
		for _, x := range r.Results {
			ran[x.Scenario] = true
		}
		counts := map[string]int{}
		for _, row := range c.Rows {
			if s, _ := std.Lookup(std.ID(row.ID)); s.Kind.Mandatory() {
				counts[row.Class]++
			}
			for _, s := range row.Scenarios {
				Expect(ran).To(HaveKey(s), "%s names %s, which did not run", row.ID, s)
			}
		}
		Expect(counts["SC"]).To(Equal(c.Shall.SC))
		Expect(counts["SP"]).To(Equal(c.Shall.SP))
		Expect(counts["NA"]).To(Equal(c.Shall.NA))
		row := func(id string) reports.CoverageStatement {
			GinkgoHelper()
			for _, x := range c.Rows {
				if x.ID == id {
					return x
				}
			}
			Fail("no row " + id)
			return reports.CoverageStatement{}
		}
		// freeze-director-timestamp's defence, check_timestamp.expiry, implements check_timestamp#4
		Expect(row("check_timestamp#4").Scenarios).To(ConsistOf("freeze-director-timestamp"))
		Expect(row("check_timestamp#4").Checks).To(ConsistOf("check_timestamp.expiry"))
		Expect(row("check_root#3").Scenarios).To(BeEmpty())
		Expect(row("check_root#3").Specs).NotTo(BeEmpty())
		Expect(row("download_image#8").Class).To(Equal("NA"))
		Expect(row("download_image#8").Reason).NotTo(BeEmpty())
	})

	It("is a section of the HTML report: totals, per section by scenario / by spec / not applicable, each statement linked to the scenarios that exercised it", func() {
		r := sample.Report(0)
		doc := htmlOf(r)
		wellFormed(doc)
		root := parse(doc)
		var sec *html.Node
		ids := map[string]bool{}
		walk(root, func(n *html.Node) {
			if n.Type == html.ElementNode && attr(n, "id") != "" {
				ids[attr(n, "id")] = true
				if attr(n, "id") == "standard-coverage" {
					sec = n
				}
			}
		})
		Expect(sec).NotTo(BeNil())
		Expect(text(sec)).To(ContainSubstring("Standard coverage"))
		// the totals: the SHALL row gives the coverage's counts
		var totals []string
		walk(sec, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "tr" && totals == nil {
				var cells []string
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "td" {
						cells = append(cells, cell(c))
					}
				}
				if len(cells) > 0 && cells[0] == "SHALL" {
					totals = cells
				}
			}
		})
		s := r.Coverage.Shall
		Expect(totals).To(Equal([]string{"SHALL", strconv.Itoa(s.SC), strconv.Itoa(s.SP), strconv.Itoa(s.UT), strconv.Itoa(s.NI), strconv.Itoa(s.NA), strconv.Itoa(s.None), "171"}))
		Expect(text(sec)).To(ContainSubstring("by scenario with control"))
		Expect(text(sec)).To(ContainSubstring("not applicable"))
		// one row per statement, and its scenario links lead to the scenario's section
		rows, links := 0, 0
		walk(sec, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "tr" && strings.HasPrefix(attr(n, "id"), "std-") {
				rows++
			}
			if n.Type == html.ElementNode && n.Data == "a" {
				links++
				href := attr(n, "href")
				Expect(href).To(HavePrefix("#scenario-"))
				Expect(ids).To(HaveKey(strings.TrimPrefix(href, "#")), "link %s leads nowhere", href)
			}
		})
		Expect(rows).To(Equal(len(std.Statements())))
		Expect(links).To(BeNumerically(">", 0))
		var buf bytes.Buffer
		row := func(id string) string {
			buf.Reset()
			walk(sec, func(n *html.Node) {
				if n.Type == html.ElementNode && attr(n, "id") == "std-"+strings.ReplaceAll(id, "#", "-") {
					Expect(html.Render(&buf, n)).To(Succeed())
				}
			})
			return buf.String()
		}
		Expect(row("check_timestamp#4")).To(ContainSubstring(`href="#scenario-freeze-director-timestamp"`))
		// and back: the scenario's section lists what it proves, linked to the rows
		Expect(ids).To(HaveKey("std-check_timestamp-4"))
		Expect(doc).To(MatchRegexp(`(?s)id="scenario-freeze-director-timestamp".*<dt>Proves</dt><dd class="mono"><a href="#std-check_timestamp-4">check_timestamp#4</a>`))
		Expect(row("check_timestamp#4")).To(ContainSubstring("SHALL*"))
	})

	It("is left out of a report that carries none", func() {
		r := sample.Report(0)
		r.Coverage = nil
		Expect(htmlOf(r)).NotTo(ContainSubstring(`id="standard-coverage"`))
	})
})
