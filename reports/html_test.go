package reports_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/net/html"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

func htmlOf(r *reports.Report, opts ...reports.Option) string {
	GinkgoHelper()
	var buf bytes.Buffer
	Expect(reports.WriteHTML(&buf, r, opts...)).To(Succeed())
	return buf.String()
}

var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// wellFormed tokenizes the document and checks that it has no tokenizer
// error and that every element is closed in order.
func wellFormed(doc string) {
	GinkgoHelper()
	z := html.NewTokenizer(strings.NewReader(doc))
	var stack []string
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			Expect(z.Err()).To(Equal(io.EOF))
			Expect(stack).To(BeEmpty(), "unclosed elements")
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				stack = append(stack, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			Expect(stack).NotTo(BeEmpty(), "</%s> closes nothing", name)
			Expect(stack[len(stack)-1]).To(Equal(string(name)), "misnested </%s>", name)
			stack = stack[:len(stack)-1]
		}
	}
}

func parse(doc string) *html.Node {
	GinkgoHelper()
	n, err := html.Parse(strings.NewReader(doc))
	Expect(err).NotTo(HaveOccurred())
	return n
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return n.Type == html.ElementNode && strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

func all(root *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(root, func(n *html.Node) {
		if pred(n) {
			out = append(out, n)
		}
	})
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func external(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return strings.Contains(v, "http://") || strings.Contains(v, "https://") || strings.Contains(v, "//") ||
		strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:")
}

// selfContained checks that nothing in the document points outside it.
func selfContained(root *html.Node) {
	walk(root, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		Expect([]string{"script", "link", "iframe", "img", "object", "embed", "audio", "video", "base", "form"}).
			NotTo(ContainElement(n.Data), "element <%s> may load something", n.Data)
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			Expect(k).NotTo(HavePrefix("on"), "event handler attribute %s", k)
			switch k {
			case "src", "href", "xlink:href", "action", "srcset", "poster", "data", "background", "style":
				Expect(external(a.Val)).To(BeFalse(), "<%s %s=%q>", n.Data, k, a.Val)
			}
			if k == "href" {
				Expect(a.Val).NotTo(ContainSubstring(":"), "href %q has a scheme", a.Val)
			}
			if strings.Contains(strings.ToLower(a.Val), "url(") {
				Expect(a.Val).To(MatchRegexp(`url\(\s*['"]?#`), "url( pointing outside: %q", a.Val)
			}
		}
		if n.Data == "style" {
			css := text(n)
			Expect(css).NotTo(ContainSubstring("@import"))
			Expect(css).NotTo(ContainSubstring("url("))
		}
	})
}

var _ = Describe("the HTML report", func() {
	var sections map[string]string
	BeforeEach(func() { sections = reports.StandardSections(standardMD()) })

	It("is well-formed HTML", func() {
		doc := htmlOf(sample.Report(3), reports.WithStandard(sections))
		Expect(doc).To(HavePrefix("<!DOCTYPE html>"))
		wellFormed(doc)
	})

	It("is self-contained: nothing fetched, no link out, no script", func() {
		r := sample.Report(3)
		for i := 0; i < 4; i++ { // many results
			more := sample.Report(1)
			for j := range more.Results {
				more.Results[j].Scenario += fmt.Sprintf("-%d", i)
			}
			r.Add(more.Results...)
		}
		Expect(r.Results).To(HaveLen(130))
		r.Results[0].Capture = "https://evil.example/steal.pcap"
		r.Results[1].Capture = "//evil.example/steal.pcap"
		r.Results[2].CandumpLog = "javascript:alert(1)"
		r.Results[3].Capture = "/etc/passwd"
		r.Results[4].Description = "see https://uptane.org for more"
		doc := htmlOf(r, reports.WithStandard(sections))
		wellFormed(doc)
		root := parse(doc)
		selfContained(root)
		links := all(root, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "a" })
		Expect(len(links)).To(BeNumerically(">", 130))
		Expect(doc).To(ContainSubstring("see https://uptane.org for more"), "URLs in text stay plain text")
		Expect(doc).To(ContainSubstring(`href="runs/freeze-director-timestamp/conformant/powertrain.log"`), "a relative capture path is linked")
		Expect(all(root, func(n *html.Node) bool { return n.Data == "a" && strings.Contains(attr(n, "href"), "passwd") })).To(BeEmpty())
	})

	It("draws one sequence diagram per scenario with one arrow or note per sequence entry", func() {
		r := sample.Report(0)
		root := parse(htmlOf(r))
		var conf, ctrl []int // sequence lengths of the first conformant / control run per scenario
		seen := map[string]bool{}
		seenCtl := map[string]bool{}
		for _, x := range r.Results {
			if !x.Control && !seen[x.Scenario] {
				seen[x.Scenario] = true
				conf = append(conf, len(x.Sequence))
			}
			if x.Control && !seenCtl[x.Scenario] {
				seenCtl[x.Scenario] = true
				ctrl = append(ctrl, len(x.Sequence))
			}
		}
		check := func(class string, want []int) {
			GinkgoHelper()
			svgs := all(root, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, class) })
			Expect(svgs).To(HaveLen(len(want)))
			for i, s := range svgs {
				entries := all(s, func(n *html.Node) bool { return n.Data == "g" && hasClass(n, "entry") })
				Expect(entries).To(HaveLen(want[i]), "%s diagram %d", class, i)
				for j, e := range entries {
					Expect(attr(e, "data-entry")).To(Equal(fmt.Sprint(j)))
				}
			}
		}
		Expect(conf).To(HaveLen(8))
		check("sequence", conf)
		check("sequence-control", ctrl)
		sec := all(root, func(n *html.Node) bool { return n.Data == "section" && hasClass(n, "scenario") })
		Expect(sec).To(HaveLen(8))
		for _, s := range sec {
			Expect(all(s, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "sequence") })).To(HaveLen(1))
		}
	})

	It("draws arrows between lifelines and marks attacks and faults", func() {
		r := sample.Report(0)
		r.Results = r.Results[:1]
		r.Results[0].Sequence = []reports.Message{
			{T: 0, From: "attacker", To: "TCU-0001", Label: "attack on: x", Kind: reports.KindAttack},
			{T: 1, From: "TCU-0001", To: "director", Label: "GET timestamp.json", Kind: reports.KindHTTP, Fault: "check_timestamp.expiry (freeze)"},
			{T: 2, From: "TCU-0001", To: "ECM-0001", Label: "write nonce", Kind: reports.KindUDS},
			{T: 3, From: "ECM-0001", Label: "install", Kind: reports.KindNote},
			{T: 4, Label: "campaign done", Kind: reports.KindNote},
		}
		r.Summarize()
		root := parse(htmlOf(r))
		svg := all(root, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "sequence") })[0]
		titles := all(svg, func(n *html.Node) bool { return hasClass(n, "lane-title") })
		var names []string
		for _, t := range titles {
			names = append(names, text(t))
		}
		Expect(names).To(Equal([]string{"Director repo", "Attacker", "TCU-0001", "ECM-0001"}))
		entries := all(svg, func(n *html.Node) bool { return n.Data == "g" && hasClass(n, "entry") })
		Expect(entries).To(HaveLen(5))
		count := func(n *html.Node, el, class string) int {
			return len(all(n, func(c *html.Node) bool { return c.Data == el && (class == "" || hasClass(c, class)) }))
		}
		for i := 0; i < 3; i++ {
			Expect(count(entries[i], "line", "msg")).To(Equal(1), "entry %d is an arrow", i)
			Expect(count(entries[i], "polygon", "head")).To(Equal(1))
		}
		Expect(hasClass(entries[0], "k-attack")).To(BeTrue())
		Expect(hasClass(entries[1], "fault")).To(BeTrue())
		Expect(text(entries[1])).To(ContainSubstring("✗ check_timestamp.expiry (freeze)"))
		Expect(count(entries[3], "rect", "box")).To(Equal(1))
		Expect(count(entries[4], "rect", "band")).To(Equal(1))
		// the director arrow points left: its head is at the director's lifeline
		line := all(entries[1], func(n *html.Node) bool { return n.Data == "line" })[0]
		Expect(attr(line, "x2")).To(Equal("164.0"))
	})

	It("draws a bus-load timeline per scenario with a line per bus", func() {
		r := sample.Report(0)
		root := parse(htmlOf(r))
		charts := all(root, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "busload") })
		Expect(charts).To(HaveLen(8))
		var samples []int // per scenario, from its first conformant run
		seen := map[string]bool{}
		for _, x := range r.Results {
			if !x.Control && !seen[x.Scenario] {
				seen[x.Scenario] = true
				samples = append(samples, len(x.BusLoad[0].Samples))
			}
		}
		for i, c := range charts {
			lines := all(c, func(n *html.Node) bool { return n.Data == "polyline" })
			Expect(lines).To(HaveLen(2))
			for _, l := range lines {
				Expect(strings.Fields(attr(l, "points"))).To(HaveLen(samples[i]), "one point per sample")
			}
			Expect(text(c)).To(ContainSubstring("powertrain · peak"))
			Expect(all(c, func(n *html.Node) bool { return hasClass(n, "attack-mark") })).NotTo(BeEmpty())
		}
	})

	It("stacks each bus's load by kind of traffic (rest-bus, update, attacker, other), kinds without traffic left out", func() {
		r := sample.Report(0)
		r.Results = r.Results[:1]
		r.Results[0].BusLoad = []reports.BusLoad{
			{Bus: "powertrain", Samples: []reports.LoadSample{
				{T: 0, LoadPct: 10, RestbusPct: 10},
				{T: 5, LoadPct: 50, RestbusPct: 10, UpdatePct: 40},
				{T: 10, LoadPct: 70, RestbusPct: 10, UpdatePct: 40, AttackerPct: 20}}},
			{Bus: "body", Samples: []reports.LoadSample{{T: 0, LoadPct: 4}, {T: 10, LoadPct: 4}}}, // not split: no stack
		}
		r.Summarize()
		root := parse(htmlOf(r))
		stacks := all(root, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, "busstack") })
		Expect(stacks).To(HaveLen(1))
		Expect(attr(stacks[0], "data-bus")).To(Equal("powertrain"))
		areas := all(stacks[0], func(n *html.Node) bool { return n.Data == "polygon" })
		Expect(areas).To(HaveLen(3))
		for i, k := range []string{"k-restbus", "k-update", "k-attacker"} {
			Expect(hasClass(areas[i], k)).To(BeTrue(), "layer %d is %s", i, k)
			Expect(strings.Fields(attr(areas[i], "points"))).To(HaveLen(6), "top and bottom edge, 3 samples each")
		}
		// the update's layer sits on the rest-bus's: its bottom edge is
		// the rest-bus's top edge
		rb, up := strings.Fields(attr(areas[0], "points")), strings.Fields(attr(areas[1], "points"))
		Expect(up[5]).To(Equal(rb[0]))
		Expect(text(stacks[0])).To(ContainSubstring("update · mean 26.7% · peak 40.0%"))
		Expect(text(stacks[0])).To(ContainSubstring("attacker · mean 6.7% · peak 20.0%"))
	})

	It("keeps peaks when a long run has more samples than the chart has room for", func() {
		r := sample.Report(0)
		r.Results = r.Results[:1]
		var s []reports.LoadSample
		for i := 0; i < 5000; i++ {
			s = append(s, reports.LoadSample{T: float64(i), LoadPct: 1})
		}
		s[2345].LoadPct = 97
		r.Results[0].BusLoad = []reports.BusLoad{{Bus: "powertrain", Samples: s}}
		r.Summarize()
		root := parse(htmlOf(r))
		pl := all(root, func(n *html.Node) bool { return n.Data == "polyline" })
		Expect(pl).To(HaveLen(1))
		Expect(len(strings.Fields(attr(pl[0], "points")))).To(BeNumerically("<=", 600))
		Expect(text(root)).To(ContainSubstring("peak 97.0%"))
	})

	It("escapes hostile strings everywhere", func() {
		r := sample.Report(1)
		evil := `<script>alert(1)</script>"><img src=x onerror=alert(2)>`
		for i := range r.Results {
			r.Results[i].Description = evil
			r.Results[i].ECU = evil
			r.Results[i].Detail = evil
			r.Results[i].Detected = evil
			r.Results[i].Standard = append(r.Results[i].Standard, evil)
		}
		r.Results[0].Scenario = evil
		r.Results[0].Sequence[0].Label = `</text></svg><script>alert(3)</script>`
		r.Results[0].Sequence[1].From = evil
		r.Results[0].BusLoad[0].Bus = evil
		r.Rig.Name = evil
		r.Summarize()
		doc := htmlOf(r, reports.WithStandard(map[string]string{"check_timestamp": "# T\n\n1. " + evil}), reports.WithTitle(evil))
		wellFormed(doc)
		root := parse(doc)
		selfContained(root)
		Expect(all(root, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "script" })).To(BeEmpty())
		Expect(all(root, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "img" })).To(BeEmpty())
		Expect(text(root)).To(ContainSubstring(evil), "shown as text")
		Expect(text(root)).To(ContainSubstring("</text></svg><script>alert(3)</script>"))
	})

	It("quotes the Standard's text for the sections a scenario exercises", func() {
		root := parse(htmlOf(sample.Report(0), reports.WithStandard(sections)))
		quotes := all(root, func(n *html.Node) bool { return n.Data == "blockquote" && hasClass(n, "standard") })
		var ts, fv *html.Node
		for _, q := range quotes {
			t := strings.TrimSpace(text(q))
			if ts == nil && strings.HasPrefix(t, "§check_timestamp How to check Timestamp metadata") {
				ts = q
			}
			if fv == nil && strings.HasPrefix(t, "§full_verification Full verification") {
				fv = q
			}
		}
		Expect(ts).NotTo(BeNil())
		Expect(fv).NotTo(BeNil())
		items := func(list *html.Node) []*html.Node {
			var out []*html.Node
			for c := list.FirstChild; c != nil; c = c.NextSibling {
				if c.Data == "li" {
					out = append(out, c)
				}
			}
			return out
		}
		ol := all(ts, func(n *html.Node) bool { return n.Data == "ol" })
		Expect(ol).To(HaveLen(1))
		steps := items(ol[0])
		Expect(steps).To(HaveLen(4))
		Expect(text(steps[3])).To(HavePrefix("Check that the current (or latest securely attested) time is lower than the expiration timestamp"))
		top := all(fv, func(n *html.Node) bool { return n.Data == "ol" })[0]
		Expect(items(top)).To(HaveLen(10))
		sub := all(items(top)[9], func(n *html.Node) bool { return n.Data == "ol" })
		Expect(sub).To(HaveLen(2), "step 10 has a sub-list with a sub-sub-list")
		Expect(items(sub[0])).To(HaveLen(2))
		Expect(items(sub[1])).To(HaveLen(3))
		Expect(text(fv)).To(ContainSubstring("§check_timestamp"), "{{references}} become section names")
	})

	It("says which sections it has no text for", func() {
		r := sample.Report(0)
		doc := htmlOf(r)
		Expect(doc).To(ContainSubstring("No text supplied for §check_timestamp, §full_verification"))
	})

	It("shows the overview: verdict, counts, every result", func() {
		r := sample.Report(3)
		root := parse(htmlOf(r))
		v := all(root, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == "verdict" })
		Expect(v).To(HaveLen(1))
		Expect(hasClass(v[0], "bad")).To(BeTrue())
		Expect(text(v[0])).To(ContainSubstring("3 of 26 runs failed"))
		rows := all(root, func(n *html.Node) bool { return n.Data == "tr" && (hasClass(n, "row-ok") || hasClass(n, "row-bad")) })
		Expect(rows).To(HaveLen(2*26), "the overview table and the scenario tables")
		bad := all(root, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "row-bad") })
		Expect(bad).To(HaveLen(2 * 3))

		ok := parse(htmlOf(sample.Report(0)))
		v = all(ok, func(n *html.Node) bool { return n.Data == "section" && attr(n, "id") == "verdict" })
		Expect(hasClass(v[0], "ok")).To(BeTrue())
		Expect(text(v[0])).To(ContainSubstring("All 26 runs passed"))
	})

	It("shows the ECU's version report as escaped, indented JSON", func() {
		r := sample.Report(0)
		r.Results = r.Results[:1]
		r.Results[0].VersionReport = []byte(`{"signed":{"ecu_identifier":"<ECM>"}}`)
		r.Summarize()
		doc := htmlOf(r)
		Expect(strings.Contains(doc, "{\n  &#34;signed&#34;: {\n    &#34;ecu_identifier&#34;: &#34;&lt;ECM&gt;&#34;\n  }\n}")).To(BeTrue())
	})

	It("renders the same report to the same bytes", func() {
		a := htmlOf(sample.Report(2), reports.WithStandard(sections))
		b := htmlOf(sample.Report(2), reports.WithStandard(sections))
		Expect(a == b).To(BeTrue())
	})
})
