package scenarios

// The bus-load timeline of a run, split by kind of traffic (the report's
// bus-load chart).

import (
	"maps"
	"math"
	"slices"
	"strings"
	gotime "time"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// Traffic kinds of the bus-load split.
const (
	trafficRestbus = iota
	trafficUpdate
	trafficAttacker
	trafficOther
	trafficKinds
)

// loadBuckets is the width of the buckets a run's bus time is counted in;
// loadWindows the most windows a run's timeline has in the report.
const (
	loadBuckets = gotime.Millisecond
	loadWindows = 120
)

type frameID struct {
	id       uint32
	extended bool
}

// busLoad counts one bus's busy time by kind of traffic.
type busLoad struct {
	name            string
	nominal, data   int // bit rates
	restbus, update map[frameID]bool
	busy            map[int64]*[trafficKinds]gotime.Duration // by bucket since the run's start
	start           gotime.Time
	lastBucket      int64
}

// kind classifies a frame by its sender and identifier: an attacker's node
// (its name starts with "attacker"), then the rest-bus's DBC identifiers,
// then the ISO-TP identifiers of the rig's ECUs on this bus.
func (b *busLoad) kind(ev can.Event) int {
	id := frameID{ev.Frame.ID, ev.Frame.Extended}
	switch {
	case strings.HasPrefix(ev.Sender, events.Attacker):
		return trafficAttacker
	case b.restbus[id]:
		return trafficRestbus
	case b.update[id]:
		return trafficUpdate
	}
	return trafficOther
}

func (b *busLoad) add(ev can.Event) {
	if ev.Fault == vbus.Drop || ev.Fault == vbus.BusOff {
		return // never on the wire
	}
	bits := vbus.FrameTiming(ev.Frame)
	dur := bits.Duration(b.nominal, b.data)
	// the tap sees the frame when the receivers get it, the intermission
	// (Tail) still to come: its bus time is [at, at+dur)
	at := ev.Time.Sub(b.start) - dur + gotime.Duration(bits.Tail)*gotime.Second/gotime.Duration(b.nominal)
	if at < 0 {
		at = 0
	}
	kind := b.kind(ev)
	for left := dur; left > 0; {
		k := int64(at / loadBuckets)
		in := min(left, gotime.Duration(k+1)*loadBuckets-at)
		bk := b.busy[k]
		if bk == nil {
			bk = &[trafficKinds]gotime.Duration{}
			b.busy[k] = bk
		}
		bk[kind] += in
		b.lastBucket = max(b.lastBucket, k)
		at += in
		left -= in
	}
}

// recordBusLoad taps every timed bus of the run; the returned function
// stops the taps and gives each bus's timeline (nil without a timed bus).
func (r *runner) recordBusLoad() func() []reports.BusLoad {
	var loads []*busLoad
	var stops []func()
	start := r.sim.Now()
	for _, name := range slices.Sorted(maps.Keys(r.v.Buses)) {
		rb := r.v.Rig.Bus(name)
		if rb == nil || rb.Bitrate <= 0 {
			continue
		}
		b := &busLoad{name: name, nominal: rb.Bitrate, data: rb.DataBitrate, start: start,
			restbus: map[frameID]bool{}, update: map[frameID]bool{}, busy: map[int64]*[trafficKinds]gotime.Duration{}}
		if b.data <= 0 {
			b.data = b.nominal
		}
		if rs := r.v.Restbus[name]; rs != nil {
			for _, m := range rs.Messages() {
				b.restbus[frameID{m.ID, m.Extended}] = true
			}
		}
		for _, e := range r.v.Rig.ECUs {
			if e.Bus == name || slices.Contains(e.Buses, name) {
				b.update[frameID{e.ISOTP.Request, e.ISOTP.Extended}] = true
				b.update[frameID{e.ISOTP.Response, e.ISOTP.Extended}] = true
			}
		}
		loads = append(loads, b)
		stops = append(stops, r.v.Buses[name].Tap(b.add))
	}
	return func() []reports.BusLoad {
		for _, s := range stops {
			s()
		}
		var out []reports.BusLoad
		for _, b := range loads {
			out = append(out, b.timeline(r.log.Events()))
		}
		return out
	}
}

// timeline is the bus's load in at most loadWindows windows of whole
// buckets, from the run's first event (the origin of its message
// sequence) to its last frame.
func (b *busLoad) timeline(evs []events.Event) reports.BusLoad {
	origin := b.start
	for _, e := range evs {
		if !e.Time.IsZero() {
			origin = e.Time
			break
		}
	}
	per := b.lastBucket/loadWindows + 1
	width := gotime.Duration(per) * loadBuckets
	n := b.lastBucket/per + 1
	sums := make([][trafficKinds]gotime.Duration, n)
	for k, bk := range b.busy {
		for i, d := range bk {
			sums[k/per][i] += d
		}
	}
	pct := func(d gotime.Duration) float64 {
		return math.Round(float64(d)/float64(width)*100*100) / 100
	}
	out := reports.BusLoad{Bus: b.name}
	for w, s := range sums {
		t := b.start.Add(gotime.Duration(w) * width)
		var total gotime.Duration
		for _, d := range s {
			total += d
		}
		if total > width {
			// error frames last longer than the frames they replace
			// (FrameTiming counts the frame): the parts share the window
			for i := range s {
				s[i] = gotime.Duration(float64(s[i]) * float64(width) / float64(total))
			}
		}
		ls := reports.LoadSample{RestbusPct: pct(s[trafficRestbus]), UpdatePct: pct(s[trafficUpdate]),
			AttackerPct: pct(s[trafficAttacker]), OtherPct: pct(s[trafficOther])}
		if t.After(origin) {
			ls.T = reports.Ms(t.Sub(origin))
		}
		ls.LoadPct = math.Round(min(ls.RestbusPct+ls.UpdatePct+ls.AttackerPct+ls.OtherPct, 100)*100) / 100
		out.Samples = append(out.Samples, ls)
	}
	return out
}
