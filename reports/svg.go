package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Geometry of the inline SVG diagrams. Everything is computed here as
// numbers and plain strings; the HTML template only places them, so every
// label is escaped by html/template.

const (
	seqLeft    = 78.0  // room for the time column
	laneGap    = 172.0 // distance between lifelines (at most)
	laneMin    = 128.0 // distance between lifelines (at least)
	seqMaxW    = 1160  // width of the page's content: the lanes share it, down to laneMin
	seqTop     = 56.0  // below the participant boxes
	seqRow     = 24.0  // height of one entry
	seqFaultH  = 14.0  // extra height of an entry with a fault line
	seqBottom  = 16.0
	labelChars = 46 // a label longer than this is cut (the full text is the tooltip)
)

type seqLane struct {
	X     float64
	Name  string // participant ID
	Title string // shown name
	Class string // "repo", "attacker", "ecu"
}

type seqEntry struct {
	Index  int
	Kind   string
	Shape  string // "arrow", "box" (on one lifeline), "band" (across all)
	Y      float64
	X1, X2 float64
	Head   string // arrowhead polygon points
	BoxX   float64
	BoxW   float64
	LabelX float64
	Anchor string  // text-anchor of the label
	Label  string  // possibly cut
	Full   string  // the whole entry, for the tooltip
	Fault  string  // possibly cut
	FaultX float64 // the fault line starts here (text-anchor start)
	Time   string
	Class  string
}

type seqDiagram struct {
	Width, Height float64
	LaneBottom    float64
	BoxW, BoxOff  float64 // width of a participant box, and its x offset from the lifeline
	Lanes         []seqLane
	Entries       []seqEntry
}

// participantTitle is the shown name of a sequence participant.
func participantTitle(id string) string {
	switch id {
	case Director:
		return "Director repo"
	case Image:
		return "Image repo"
	case Attacker:
		return "Attacker"
	}
	return id
}

// lanes orders the participants: the repositories, the attacker (who sits
// between the backend and the vehicle), then the ECUs in order of first
// appearance.
func lanes(seq []Message) []string {
	seen := map[string]bool{}
	var ecus []string
	for _, m := range seq {
		for _, p := range []string{m.From, m.To} {
			if p == "" || seen[p] {
				continue
			}
			seen[p] = true
			if p != Director && p != Image && p != Attacker {
				ecus = append(ecus, p)
			}
		}
	}
	var out []string
	for _, p := range []string{Director, Image, Attacker} {
		if seen[p] {
			out = append(out, p)
		}
	}
	return append(out, ecus...)
}

func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// fmtMs formats milliseconds for an axis or a time column.
func fmtMs(ms float64) string {
	switch {
	case ms >= 3600000:
		return strconv.FormatFloat(ms/3600000, 'f', 1, 64) + " h"
	case ms >= 60000:
		return strconv.FormatFloat(ms/60000, 'f', 1, 64) + " min"
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	case ms == math.Trunc(ms):
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

// sequenceDiagram lays out one entry per message: an arrow between two
// lifelines, a box on one lifeline (a message with only a sender or sent to
// itself), or a band across all of them (a note about no one).
func sequenceDiagram(seq []Message) *seqDiagram {
	names := lanes(seq)
	if len(names) == 0 {
		names = []string{"vehicle"}
	}
	d := &seqDiagram{}
	gap := math.Max(laneMin, math.Min(laneGap, (seqMaxW-seqLeft-8)/float64(len(names))))
	d.BoxW = gap - 20
	d.BoxOff = -d.BoxW / 2
	x := map[string]float64{}
	for i, n := range names {
		cls := "ecu"
		switch n {
		case Director, Image:
			cls = "repo"
		case Attacker:
			cls = "attacker"
		}
		lx := seqLeft + gap/2 + float64(i)*gap
		x[n] = lx
		d.Lanes = append(d.Lanes, seqLane{X: lx, Name: n, Title: cut(participantTitle(n), int(d.BoxW/8)), Class: cls})
	}
	d.Width = seqLeft + float64(len(names))*gap + 8
	left, right := seqLeft+8, d.Width-8
	y := seqTop
	prevTime := ""
	for i, m := range seq {
		e := seqEntry{Index: i, Kind: m.Kind, Time: fmtMs(m.T), Class: "k-" + m.Kind}
		e.Y = y + seqRow - 8
		full := m.Label
		if m.From != "" || m.To != "" {
			full = fmt.Sprintf("%s → %s: %s", m.From, m.To, m.Label)
		}
		if m.Fault != "" {
			full += " — " + m.Fault
			e.Class += " fault"
		}
		e.Full = fmt.Sprintf("%s  %s", e.Time, full)
		if e.Time == prevTime {
			e.Time = "" // the time column shows only changes
		} else {
			prevTime = e.Time
		}
		e.Label = cut(m.Label, labelChars)
		x1, ok1 := x[m.From]
		x2, ok2 := x[m.To]
		switch {
		case ok1 && ok2 && m.From != m.To:
			e.Shape = "arrow"
			e.X1, e.X2 = x1, x2
			dir := 1.0
			if x2 < x1 {
				dir = -1
			}
			e.Head = fmt.Sprintf("%.1f,%.1f %.1f,%.1f %.1f,%.1f", x2, e.Y, x2-dir*8, e.Y-4, x2-dir*8, e.Y+4)
			e.LabelX, e.Anchor = (x1+x2)/2, "middle"
		case ok1 || ok2:
			e.Shape = "box"
			lx := x1
			if !ok1 {
				lx = x2
			}
			w := math.Min(float64(utf8.RuneCountInString(e.Label))*6.1+16, gap*2-12)
			bx := math.Max(left, math.Min(lx-w/2, right-w))
			e.BoxX, e.BoxW = bx, w
			e.LabelX, e.Anchor = bx+w/2, "middle"
		default:
			e.Shape = "band"
			e.BoxX, e.BoxW = left, right-left
			e.LabelX, e.Anchor = (left+right)/2, "middle"
		}
		if m.Fault != "" {
			e.FaultX = e.BoxX
			if e.Shape == "arrow" {
				e.FaultX = math.Max(left, math.Min(e.X1, e.X2))
			}
			e.FaultX = math.Max(left, math.Min(e.FaultX, right-320))
			e.Fault = cut(m.Fault, int((right-e.FaultX)/6.4))
		}
		y += seqRow
		if e.Fault != "" {
			y += seqFaultH
		}
		d.Entries = append(d.Entries, e)
	}
	d.LaneBottom = y + 4
	d.Height = y + seqBottom
	return d
}

// Bus-load chart.

const (
	loadW, loadH   = 900.0, 230.0
	loadX0, loadY0 = 56.0, 16.0
	loadPW, loadPH = 820.0, 160.0
	loadMaxPoints  = 600
	loadLegendY    = 212.0
)

var palette = []string{"#1d4ed8", "#c2410c", "#15803d", "#7c3aed", "#a16207", "#0e7490", "#be185d"}

type loadSeries struct {
	Bus     string
	Color   string
	Points  string
	LegendX float64
	Peak    string
}

type tick struct {
	X, Y  float64
	Label string
}

type loadChart struct {
	Width, Height  float64
	X0, Y0, PW, PH float64
	Bottom, Right  float64
	Series         []loadSeries
	XTicks, YTicks []tick
	Marks          []tick // attacks, on the time axis
	LegendY        float64
	YMax           float64
	Reduced        bool // samples were reduced to their maximum per interval
}

// niceStep returns the smallest 1, 2 or 5 times a power of ten at least v.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// niceCeil returns the smallest of 5, 10, 25, 50, 100 (percent) at least v.
func niceCeil(v float64) float64 {
	for _, c := range []float64{5, 10, 25, 50} {
		if v <= c {
			return c
		}
	}
	return 100
}

// busLoadChart draws each bus as a polyline over the run's time; attacks in
// the sequence are marked on the time axis. Nil when there is no load data.
func busLoadChart(loads []BusLoad, seq []Message) *loadChart {
	var tmax, pmax float64
	n := 0
	for _, bl := range loads {
		for _, s := range bl.Samples {
			tmax = math.Max(tmax, s.T)
			pmax = math.Max(pmax, s.LoadPct)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if tmax == 0 {
		tmax = 1
	}
	c := &loadChart{Width: loadW, Height: loadH, X0: loadX0, Y0: loadY0, PW: loadPW, PH: loadPH,
		Bottom: loadY0 + loadPH, Right: loadX0 + loadPW, LegendY: loadLegendY, YMax: niceCeil(pmax)}
	px := func(t float64) float64 { return c.X0 + t/tmax*c.PW }
	py := func(p float64) float64 { return c.Y0 + c.PH - math.Min(p, c.YMax)/c.YMax*c.PH }
	legendX := c.X0
	for i, bl := range loads {
		samples := bl.Samples
		if len(samples) > loadMaxPoints {
			samples = reduceMax(samples, tmax)
			c.Reduced = true
		}
		var pts []string
		peak := 0.0
		for _, s := range samples {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.T), py(s.LoadPct)))
			peak = math.Max(peak, s.LoadPct)
		}
		c.Series = append(c.Series, loadSeries{Bus: cut(bl.Bus, 24), Color: palette[i%len(palette)],
			Points: strings.Join(pts, " "), LegendX: legendX,
			Peak: strconv.FormatFloat(peak, 'f', 1, 64) + "%"})
		legendX += 22 + float64(utf8.RuneCountInString(c.Series[i].Bus+" · peak "+c.Series[i].Peak))*6.6 + 20
	}
	for p := 0.0; p <= c.YMax+1e-9; p += c.YMax / 5 {
		c.YTicks = append(c.YTicks, tick{X: c.X0, Y: py(p), Label: strconv.FormatFloat(p, 'f', -1, 64) + "%"})
	}
	step := niceStep(tmax / 6)
	for t := 0.0; t <= tmax+1e-9; t += step {
		c.XTicks = append(c.XTicks, tick{X: px(t), Y: c.Bottom, Label: fmtMs(t)})
	}
	for _, m := range seq {
		if m.Kind == KindAttack && m.T <= tmax {
			c.Marks = append(c.Marks, tick{X: px(m.T), Y: c.Y0, Label: cut(m.Label, 60)})
		}
	}
	return c
}

// reduceMax keeps, for each of loadMaxPoints intervals, the sample with the
// highest load, so peaks survive.
func reduceMax(s []LoadSample, tmax float64) []LoadSample {
	out := make([]LoadSample, 0, loadMaxPoints+1)
	w := tmax / loadMaxPoints
	last := -1
	for _, x := range s {
		b := min(int(x.T/w), loadMaxPoints-1)
		if n := len(out); n > 0 && b == last {
			if x.LoadPct > out[n-1].LoadPct {
				out[n-1].LoadPct = x.LoadPct
			}
			continue
		}
		last = b
		out = append(out, LoadSample{T: float64(b) * w, LoadPct: x.LoadPct})
	}
	return out
}
