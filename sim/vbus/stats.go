package vbus

import (
	"maps"
	"time"
)

// Stats is a snapshot of a bus's counters.
type Stats struct {
	// Elapsed is the bus time since the bus was created.
	Elapsed time.Duration
	// Frames counts frames that went over the wire (delivered or not:
	// a corrupted frame counts; a dropped one does not).
	Frames uint64
	// Bits counts wire bits, stuff bits included (timed model only).
	Bits uint64
	// StuffBits counts dynamic and fixed stuff bits (timed model only).
	StuffBits uint64
	// Busy is the time the bus carried frames, intermissions and error
	// frames included (timed model only).
	Busy time.Duration
	// Load is Busy / Elapsed (0 when no time passed).
	Load float64
	// Errors counts frames whose corruption the receivers detected.
	Errors uint64
	// Overruns counts frames lost because a receive queue was full.
	Overruns uint64
	// Faults counts injected faults by kind.
	Faults map[FaultKind]uint64
	// Nodes holds per-sender counters in attach order.
	Nodes []NodeStats
}

// NodeStats are the counters of one sending node.
type NodeStats struct {
	Name    string
	Frames  uint64
	Bits    uint64
	Busy    time.Duration
	Errors  uint64 // transmissions that ended in an error frame
	BusOffs uint64 // times the node went bus-off
}

// LoadSample is one window of the bus-load time series.
type LoadSample struct {
	Start  time.Time
	Width  time.Duration
	Busy   time.Duration
	Frames int
	Bits   int
	// Load is Busy / Width, between 0 and 1.
	Load float64
}

type bucket struct {
	idx    int64
	busy   time.Duration
	frames int
	bits   int
}

type stats struct {
	start     time.Time
	res       time.Duration
	frames    uint64
	bits      uint64
	stuff     uint64
	busy      time.Duration
	errors    uint64
	overruns  uint64
	faults    map[FaultKind]uint64
	nodes     map[string]*NodeStats
	nodeOrder []string
	buckets   []bucket // increasing idx, only buckets with traffic
}

func (s *stats) init(start time.Time, res time.Duration) {
	s.start, s.res = start, res
	s.faults = map[FaultKind]uint64{}
	s.nodes = map[string]*NodeStats{}
}

func (s *stats) node(name string) *NodeStats {
	n, ok := s.nodes[name]
	if !ok {
		n = &NodeStats{Name: name}
		s.nodes[name] = n
		s.nodeOrder = append(s.nodeOrder, name)
	}
	return n
}

func (s *stats) fault(k FaultKind) { s.faults[k]++ }

// countUntimed counts one frame in the untimed model.
func (s *stats) countUntimed(name string) {
	s.frames++
	s.node(name).Frames++
}

// account records a frame that occupied the bus over [start, start+dur).
func (s *stats) account(n *NodeStats, start time.Time, dur time.Duration, bits, stuff int) {
	s.frames++
	s.bits += uint64(bits)
	s.stuff += uint64(stuff)
	s.busy += dur
	n.Frames++
	n.Bits += uint64(bits)
	n.Busy += dur
	off := start.Sub(s.start)
	if off < 0 {
		off = 0
	}
	first := true
	for left := dur; left > 0 || first; {
		idx := int64(off / s.res)
		in := min(left, time.Duration(idx+1)*s.res-off)
		bk := s.bucket(idx)
		bk.busy += in
		if first {
			bk.frames++
			bk.bits += bits
			first = false
		}
		off += in
		left -= in
	}
}

func (s *stats) bucket(idx int64) *bucket {
	if n := len(s.buckets); n > 0 && s.buckets[n-1].idx >= idx {
		for i := n - 1; i >= 0; i-- {
			if s.buckets[i].idx == idx {
				return &s.buckets[i]
			}
			if s.buckets[i].idx < idx {
				// out of order (cannot happen with a monotonic clock):
				// insert
				s.buckets = append(s.buckets, bucket{})
				copy(s.buckets[i+2:], s.buckets[i+1:])
				s.buckets[i+1] = bucket{idx: idx}
				return &s.buckets[i+1]
			}
		}
		s.buckets = append([]bucket{{idx: idx}}, s.buckets...)
		return &s.buckets[0]
	}
	s.buckets = append(s.buckets, bucket{idx: idx})
	return &s.buckets[len(s.buckets)-1]
}

// Stats returns a snapshot of the bus's counters.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &b.st
	out := Stats{
		Elapsed: b.clk.Now().Sub(b.start), Frames: s.frames, Bits: s.bits, StuffBits: s.stuff,
		Busy: s.busy, Errors: s.errors, Overruns: s.overruns, Faults: maps.Clone(s.faults),
	}
	if out.Elapsed > 0 {
		out.Load = float64(out.Busy) / float64(out.Elapsed)
	}
	for _, name := range s.nodeOrder {
		out.Nodes = append(out.Nodes, *s.nodes[name])
	}
	return out
}

// maxSamples bounds LoadSeries when the clock jumped far ahead.
const maxSamples = 1 << 20

// LoadSeries returns the bus load over consecutive windows of the given
// width (rounded up to a multiple of Config.LoadResolution), from the bus's
// creation to now: a timeline for a report. Windows without traffic are
// included with zero load, unless there would be more than about a million
// windows (after a large Jump): then only windows with traffic are returned.
func (b *Bus) LoadSeries(window time.Duration) []LoadSample {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &b.st
	if window < s.res {
		window = s.res
	}
	per := int64((window + s.res - 1) / s.res)
	window = time.Duration(per) * s.res
	end := b.clk.Now().Sub(b.start)
	nwin := int64((end + window - 1) / window)
	if len(s.buckets) > 0 {
		nwin = max(nwin, s.buckets[len(s.buckets)-1].idx/per+1)
	}
	dense := nwin <= maxSamples
	var out []LoadSample
	add := func(w int64) *LoadSample {
		if n := len(out); n > 0 && out[n-1].Start.Equal(b.start.Add(time.Duration(w)*window)) {
			return &out[n-1]
		}
		out = append(out, LoadSample{Start: b.start.Add(time.Duration(w) * window), Width: window})
		return &out[len(out)-1]
	}
	if dense {
		out = make([]LoadSample, 0, nwin)
		for w := range nwin {
			out = append(out, LoadSample{Start: b.start.Add(time.Duration(w) * window), Width: window})
		}
	}
	for _, bk := range s.buckets {
		var ls *LoadSample
		if dense {
			ls = &out[bk.idx/per]
		} else {
			ls = add(bk.idx / per)
		}
		ls.Busy += bk.busy
		ls.Frames += bk.frames
		ls.Bits += bk.bits
	}
	for i := range out {
		out[i].Load = float64(out[i].Busy) / float64(window)
	}
	return out
}
