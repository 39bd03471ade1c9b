package reports

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl report.css
var assets embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"f":      func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"ms":     fmtMs,
	"seeds":  SeedRanges,
	"pass":   passWord,
	"lower":  strings.ToLower,
	"breaks": breaks,
	"bitrate": func(b int) string {
		switch {
		case b >= 1000000 && b%100000 == 0:
			return strconv.FormatFloat(float64(b)/1e6, 'f', -1, 64) + " Mbit/s"
		case b >= 1000 && b%1000 == 0:
			return strconv.Itoa(b/1000) + " kbit/s"
		}
		return strconv.Itoa(b) + " bit/s"
	},
	"add": func(a, b int) int { return a + b },
	// a result's row class, badge class and word: passed, failed, or a
	// scenario that does not apply to the device under test
	"rowclass": func(x Result) string {
		if x.IsNotApplicable() {
			return "row-na"
		}
		if x.Pass {
			return "row-ok"
		}
		return "row-bad"
	},
	"badge": func(x Result) string {
		if x.IsNotApplicable() {
			return "na"
		}
		if x.IsResisted() {
			return "resisted"
		}
		if x.Pass && x.Expected == OutOfModel {
			return "finding"
		}
		if x.Pass {
			return "ok"
		}
		return "bad"
	},
	"word": ResultWord,
	// vclass is a verdict's class suffix: "not applicable" → "not-applicable"
	"vclass": func(v string) string { return strings.ReplaceAll(v, " ", "-") },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(rfc3339)
	},
	// stdid is the element id of a statement's row: "check_root#3" → "std-check_root-3"
	"stdid": func(id string) string { return "std-" + strings.ReplaceAll(id, "#", "-") },
	"addf":  func(a, b float64) string { return strconv.FormatFloat(a+b, 'f', 1, 64) },
	"pct": func(a, b int) string {
		if b == 0 {
			return "0"
		}
		return strconv.FormatFloat(100*float64(a)/float64(b), 'f', 1, 64)
	},
}).ParseFS(assets, "report.html.tmpl"))

var css = func() template.CSS {
	b, err := assets.ReadFile("report.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b) // a constant of this package, never report data
}()

// Option changes how a report is rendered.
type Option func(*options)

type options struct {
	sections map[string]string
	title    string
}

// WithStandard supplies the Standard's section text by anchor (see
// StandardSections); the HTML report quotes the sections each scenario
// exercises.
func WithStandard(sections map[string]string) Option {
	return func(o *options) { o.sections = sections }
}

// WithTitle sets the HTML report's title.
func WithTitle(title string) Option {
	return func(o *options) { o.title = title }
}

type htmlSection struct {
	Anchor string
	Title  string
	Blocks []mdBlock
}

type htmlResult struct {
	Result
	N              int // 1-based number in the overview
	VersionReport  string
	DirectorRecord string
}

type htmlScenario struct {
	ID          string
	Name        string
	Description string
	Attack      string
	Transport   string
	Standard    []string
	Statements  []string // the Standard's statements the scenario proves (Result.Statements)
	Sections    []htmlSection
	Missing     []string // anchors without supplied text
	Results     []htmlResult
	Runs        int
	Passed      int
	Findings    int // out-of-model findings that reproduced (no defence)
	Resisted    int // out-of-model attacks the device under test resisted
	Seq         *seqDiagram
	SeqOf       string // which run the diagram shows
	Control     *seqDiagram
	ControlOf   string
	Load        *loadChart
	Stacks      []loadStack // each bus's load by kind of traffic
	LoadOf      string
}

type attackRow struct {
	Attack    string
	Scenarios int
	Runs      int
	Passed    int
	Findings  int // out-of-model findings: no defence, no failure
	Resisted  int // out-of-model attacks the device under test resisted
	// Settled is Passed + Findings + Resisted: the runs that behaved as
	// expected.
	Settled int
}

type htmlPage struct {
	Title     string
	CSS       template.CSS
	R         *Report
	Started   string
	Finished  string
	Elapsed   string
	Pass      bool
	Results   []htmlResult
	Scenarios []htmlScenario
	Attacks   []attackRow
	Sections  int // Standard sections cited
	Simulated float64
	Coverage  *htmlCoverage // the Standard coverage, if the report has it
}

// WriteHTML writes the auditor's report: one self-contained HTML file (CSS
// inline, diagrams as inline SVG, no scripts, nothing fetched from
// anywhere) with the overview, and per scenario its description, the
// Standard's text of the sections it exercises, expected vs observed per ECU
// and profile with the ECU's error and version report, a message sequence
// diagram and a bus-load timeline, and relative links to the captures.
func WriteHTML(w io.Writer, r *Report, opts ...Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	c, err := Redact(r)
	if err != nil {
		return err
	}
	c.Summarize()
	p := buildPage(c, o)
	var buf bytes.Buffer
	if err := page.Execute(&buf, p); err != nil {
		return err
	}
	return emit(w, buf.Bytes())
}

const rfc3339 = "2006-01-02 15:04:05 MST"

func buildPage(r *Report, o options) *htmlPage {
	p := &htmlPage{Title: o.title, CSS: css, R: r, Pass: r.Passed()}
	if p.Title == "" {
		p.Title = "Uptane security test report"
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.UTC().Format(rfc3339)
	}
	if !r.Finished.IsZero() {
		p.Finished = r.Finished.UTC().Format(rfc3339)
		p.Elapsed = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	}
	ids := map[string]int{}
	cited := map[string]bool{}
	attacks := map[string]*attackRow{}
	var attackOrder []string
	n := 0
	for _, g := range groupByScenario(r.Results) {
		first := g.Results[0]
		s := htmlScenario{ID: htmlID("scenario-"+g.Scenario, ids), Name: g.Scenario, Description: first.Description,
			Attack: first.Attack, Transport: first.Transport, Standard: first.Standard, Statements: first.Statements}
		for _, a := range first.Standard {
			cited[a] = true
			text, ok := o.sections[a]
			if !ok {
				s.Missing = append(s.Missing, a)
				continue
			}
			blocks := parseMarkdown(text)
			sec := htmlSection{Anchor: a, Blocks: blocks}
			if len(blocks) > 0 && blocks[0].Kind == "h" {
				for _, in := range blocks[0].Text {
					sec.Title += in.Text
				}
				sec.Blocks = blocks[1:]
			}
			s.Sections = append(s.Sections, sec)
		}
		ar := attacks[first.Attack]
		if ar == nil {
			ar = &attackRow{Attack: first.Attack}
			attacks[first.Attack] = ar
			attackOrder = append(attackOrder, first.Attack)
		}
		ar.Scenarios++
		var conf, ctrl *Result
		for i := range g.Results {
			x := g.Results[i]
			n++
			hr := htmlResult{Result: x, N: n, VersionReport: prettyJSON(x.VersionReport), DirectorRecord: prettyJSON(x.DirectorRecord)}
			s.Results = append(s.Results, hr)
			p.Results = append(p.Results, hr)
			s.Runs++
			ar.Runs++
			p.Simulated += x.Duration
			if x.IsResisted() {
				s.Resisted++
				ar.Resisted++
			} else if x.Pass && x.Expected == OutOfModel {
				s.Findings++
				ar.Findings++
			} else if x.Pass {
				s.Passed++
				ar.Passed++
			}
			if x.Pass {
				ar.Settled++
			}
			if len(x.Sequence) > 0 || len(x.BusLoad) > 0 {
				if !x.Control && conf == nil {
					conf = &g.Results[i]
				}
				if x.Control && ctrl == nil {
					ctrl = &g.Results[i]
				}
			}
		}
		main := conf
		if main == nil {
			main, ctrl = ctrl, nil
		}
		if main != nil {
			s.Seq = sequenceDiagram(main.Sequence)
			s.SeqOf = runName(main)
			s.Load = busLoadChart(main.BusLoad, main.Sequence)
			s.Stacks = busLoadStacks(main.BusLoad, main.Sequence)
			s.LoadOf = s.SeqOf
		}
		if ctrl != nil && len(ctrl.Sequence) > 0 {
			s.Control = sequenceDiagram(ctrl.Sequence)
			s.ControlOf = runName(ctrl)
		}
		p.Scenarios = append(p.Scenarios, s)
	}
	for _, a := range attackOrder {
		p.Attacks = append(p.Attacks, *attacks[a])
	}
	p.Sections = len(cited)
	p.Coverage = coverageSection(r.Coverage)
	return p
}

// ScenarioID returns the element id of a scenario's section.
func (p *htmlPage) ScenarioID(name string) string {
	for _, s := range p.Scenarios {
		if s.Name == name {
			return s.ID
		}
	}
	return "results"
}

// LocalPath returns path if it is a relative path that stays on this
// machine (no scheme, not absolute, not protocol-relative), else "": the
// report links to its captures and to nothing else.
func (p *htmlPage) LocalPath(path string) string {
	if path == "" || strings.ContainsAny(path, ":\\") || strings.HasPrefix(path, "/") || strings.Contains(path, "//") {
		return ""
	}
	return path
}

func runName(x *Result) string {
	return x.ECU + " under the " + x.Profile + " profile"
}

var nonID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// htmlID turns s into a unique element id.
func htmlID(s string, used map[string]int) string {
	id := strings.Trim(nonID.ReplaceAllString(s, "-"), "-")
	if id == "" {
		id = "x"
	}
	used[id]++
	if k := used[id]; k > 1 {
		id += "-" + strconv.Itoa(k)
	}
	return id
}

// prettyJSON indents raw JSON for display ("" for none); invalid JSON is
// shown as it is (escaped by the template like any text).
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// breaks splits a check ID or profile name after ':', '.' and '+', where a
// table cell may wrap it.
func breaks(s string) []string {
	var out []string
	last := 0
	for i, r := range s {
		if r == ':' || r == '.' || r == '+' {
			out = append(out, s[last:i+1])
			last = i + 1
		}
	}
	return append(out, s[last:])
}
