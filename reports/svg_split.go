package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The bus-load chart of each bus split by kind of traffic: stacked areas,
// rest-bus at the bottom, then the update, the attacker and the rest.

const (
	stackW, stackH   = 900.0, 170.0
	stackX0, stackY0 = 56.0, 12.0
	stackPW, stackPH = 820.0, 110.0
	stackLegendY     = 160.0
)

// trafficKind is one layer of a split chart.
type trafficKind struct {
	Name, Class string
	pct         func(LoadSample) float64
}

var trafficKinds = []trafficKind{
	{"rest-bus", "k-restbus", func(s LoadSample) float64 { return s.RestbusPct }},
	{"update", "k-update", func(s LoadSample) float64 { return s.UpdatePct }},
	{"attacker", "k-attacker", func(s LoadSample) float64 { return s.AttackerPct }},
	{"other", "k-other", func(s LoadSample) float64 { return s.OtherPct }},
}

type stackArea struct {
	Name, Class string
	Points      string // the polygon of the layer
	Mean, Peak  string // of the layer, percent
	LegendX     float64
}

// loadStack is one bus's split chart.
type loadStack struct {
	Bus            string
	Width, Height  float64
	X0, Y0, PW, PH float64
	Bottom, Right  float64
	Areas          []stackArea
	XTicks, YTicks []tick
	Marks          []tick
	LegendY        float64
}

// busLoadStacks draws, for each bus whose samples are split by kind of
// traffic, its load as stacked areas over the run's time (on the same time
// axis as busLoadChart), attacks marked. Kinds with no traffic are left
// out. Nil when no bus is split.
func busLoadStacks(loads []BusLoad, seq []Message) []loadStack {
	var tmax float64
	for _, bl := range loads {
		for _, s := range bl.Samples {
			tmax = math.Max(tmax, s.T)
		}
	}
	if tmax == 0 {
		tmax = 1
	}
	var out []loadStack
	for _, bl := range loads {
		split, pmax := false, 0.0
		for _, s := range bl.Samples {
			split = split || s.Split()
			pmax = math.Max(pmax, s.LoadPct)
		}
		if !split {
			continue
		}
		samples := bl.Samples
		if len(samples) > loadMaxPoints {
			samples = reduceStack(samples, tmax)
		}
		c := loadStack{Bus: cut(bl.Bus, 40), Width: stackW, Height: stackH, X0: stackX0, Y0: stackY0, PW: stackPW, PH: stackPH,
			Bottom: stackY0 + stackPH, Right: stackX0 + stackPW, LegendY: stackLegendY}
		ymax := niceCeil(pmax)
		px := func(t float64) float64 { return c.X0 + t/tmax*c.PW }
		py := func(p float64) float64 { return c.Y0 + c.PH - math.Min(p, ymax)/ymax*c.PH }
		base := make([]float64, len(samples))
		legendX := c.X0
		for _, k := range trafficKinds {
			var sum, peak float64
			for _, s := range samples {
				sum += k.pct(s)
				peak = math.Max(peak, k.pct(s))
			}
			if peak == 0 {
				continue
			}
			var top, bottom []string
			for i, s := range samples {
				bottom = append(bottom, fmt.Sprintf("%.1f,%.1f", px(s.T), py(base[i])))
				base[i] += k.pct(s)
				top = append(top, fmt.Sprintf("%.1f,%.1f", px(s.T), py(base[i])))
			}
			for i, j := 0, len(bottom)-1; i < j; i, j = i+1, j-1 {
				bottom[i], bottom[j] = bottom[j], bottom[i]
			}
			a := stackArea{Name: k.Name, Class: k.Class, Points: strings.Join(append(top, bottom...), " "),
				Mean: strconv.FormatFloat(sum/float64(len(samples)), 'f', 1, 64) + "%",
				Peak: strconv.FormatFloat(peak, 'f', 1, 64) + "%", LegendX: legendX}
			c.Areas = append(c.Areas, a)
			legendX += 22 + float64(len(a.Name+" · mean "+a.Mean+" · peak "+a.Peak))*6.6 + 20
		}
		for p := 0.0; p <= ymax+1e-9; p += ymax / 2 {
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
		out = append(out, c)
	}
	return out
}

// reduceStack averages the samples over loadMaxPoints intervals (a stack
// keeps each layer's share; its busiest moments are in busLoadChart).
func reduceStack(s []LoadSample, tmax float64) []LoadSample {
	w := tmax / loadMaxPoints
	out := make([]LoadSample, 0, loadMaxPoints+1)
	var n []int
	for _, x := range s {
		b := min(int(x.T/w), loadMaxPoints-1)
		if len(out) == 0 || int(out[len(out)-1].T/w+0.5) != b {
			out = append(out, LoadSample{T: float64(b) * w})
			n = append(n, 0)
		}
		o := &out[len(out)-1]
		o.LoadPct += x.LoadPct
		o.RestbusPct += x.RestbusPct
		o.UpdatePct += x.UpdatePct
		o.AttackerPct += x.AttackerPct
		o.OtherPct += x.OtherPct
		n[len(n)-1]++
	}
	for i := range out {
		f := float64(n[i])
		out[i].LoadPct /= f
		out[i].RestbusPct /= f
		out[i].UpdatePct /= f
		out[i].AttackerPct /= f
		out[i].OtherPct /= f
	}
	return out
}
