package bus

import (
	"fmt"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// FloodConfig configures a request flood.
type FloodConfig struct {
	// Rate is the number of requests sent per second.
	Rate int
	// For is how long the flood lasts, from its start: a device that
	// floods for a while and falls silent; Stop still collects its answers.
	// Zero: until Stop.
	For time.Duration
	// Request is the UDS request sent, at most 7 bytes so that it fits one
	// single frame (default 3E 00: TesterPresent, answered positively).
	Request []byte
	// Grace is how long the node waits, after the last request, for an
	// answer to come (default 1 s); while answers are still coming then
	// (an ECU still working through its backlog, slowly on a loaded
	// host) it waits on, a tenth of Grace at a time, up to ten Graces in
	// all; an answer that has not come by then is lost.
	Grace time.Duration
	// Gap is how long the target may answer nothing at all while the flood
	// goes on before the node takes it for not running (default 100 ms,
	// twice the P2 of 50 ms within which a running server answers or says
	// it is working, ISO 14229-2): the requests sent from then until its
	// next answer are Stalled.
	Gap time.Duration
}

// DefaultGap is FloodConfig.Gap's default.
const DefaultGap = 100 * time.Millisecond

// FloodStats is what the flooding node saw.
type FloodStats struct {
	Sent     int // requests sent
	Answered int // answers to them (positive or negative)
	Busy     int // of those, busyRepeatRequest (0x21): not processed
	Lost     int // requests that got no answer
	// Stalled counts the requests sent while the target had answered
	// nothing for Gap or longer: not running at all (a process its host
	// did not schedule, a diagnostic task blocked in a long request of its
	// own), or not heard (the node's own receiver not scheduled). A
	// starved ECU is never silent that long: it answers what its processor
	// gets through, every few milliseconds, and loses the rest.
	Stalled int
}

// Starved reports whether the flood starved the ECU: it lost more
// requests than were sent while it answered nothing at all. A rate-limited
// ECU (pouf.rate_limit) answers every request, the excess busy at once, so
// what it loses while it, or the host under it, stands still is not the
// flood's doing; an ECU without one processes every request it takes,
// answers at its processor's pace and loses the rest all along. A stall of
// S at R requests a second loses at most S·R less what the ECU's receive
// queue holds, and counts S·R less Gap·R as Stalled: a stall passes for
// starvation only on an ECU whose queue holds fewer than Gap·R requests
// (100 at 1000/s; the rig's Secondaries hold 256).
func (st FloodStats) Starved() bool { return st.Lost > st.Stalled }

// Flood is a node that sends one UDS request as an ISO-TP single frame on
// a Secondary's request identifier at a fixed rate, and counts the answers
// on its response identifier.
type Flood struct {
	clk  clock.Clock
	node can.Node
	cfg  FloodConfig
	mu   sync.Mutex
	stop bool
	done clock.Cond
	exit bool
	st   FloodStats
	last time.Time // when the last answer came (the start before the first)
}

// StartFlood attaches the flooding node to b and starts sending on an actor
// of clk until Stop.
func StartFlood(b can.Bus, clk clock.Clock, ch Channel, name string, cfg FloodConfig) (*Flood, error) {
	if cfg.Rate <= 0 || time.Second/time.Duration(cfg.Rate) <= 0 {
		return nil, fmt.Errorf("bus: flood rate %d requests/s is not positive or too high", cfg.Rate)
	}
	if cfg.Request == nil {
		cfg.Request = []byte{0x3E, 0x00}
	}
	if len(cfg.Request) == 0 || len(cfg.Request) > 7 {
		return nil, fmt.Errorf("bus: a flood request is 1..7 bytes (one single frame), not %d", len(cfg.Request))
	}
	if cfg.For < 0 {
		return nil, fmt.Errorf("bus: flood duration %s is negative", cfg.For)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Second
	}
	if cfg.Gap <= 0 {
		cfg.Gap = DefaultGap
	}
	node, err := b.Attach(name, can.Exact(ch.Response, ch.Extended))
	if err != nil {
		return nil, fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	f := &Flood{clk: clk, node: node, cfg: cfg, last: clk.Now()}
	f.done = clk.NewCond(&f.mu)
	frame := can.Frame{ID: ch.Request, Extended: ch.Extended, Len: uint8(1 + len(cfg.Request))}
	frame.Data[0] = byte(len(cfg.Request)) // single frame, SF_DL
	copy(frame.Data[1:], cfg.Request)
	clk.Go(name+"/send", func() { f.send(frame) })
	clk.Go(name+"/recv", func() { f.recv(cfg.Request[0]) })
	return f, nil
}

func (f *Flood) send(frame can.Frame) {
	defer func() {
		f.mu.Lock()
		f.exit = true
		f.done.Broadcast()
		f.mu.Unlock()
	}()
	period := time.Second / time.Duration(f.cfg.Rate)
	start := f.clk.Now()
	for k := 0; ; k++ {
		if d := start.Add(time.Duration(k) * period).Sub(f.clk.Now()); d > 0 {
			f.clk.Sleep(d)
		} else if d <= -period {
			// late by a period or more (a sender that was not scheduled
			// on a wall clock, a bus that held its frame): the slots it
			// missed are gone, as a ticker's are; catching up would send
			// them in one burst, above the flood's rate
			k = int(f.clk.Now().Sub(start) / period)
		}
		f.mu.Lock()
		stop := f.stop
		f.mu.Unlock()
		if f.cfg.For > 0 && f.clk.Now().Sub(start) >= f.cfg.For {
			stop = true // its time is up: the node falls silent, still listening
		}
		if stop || f.node.Send(frame) != nil {
			return
		}
		f.mu.Lock()
		f.st.Sent++
		if f.clk.Now().Sub(f.last) >= f.cfg.Gap {
			f.st.Stalled++
		}
		f.mu.Unlock()
	}
}

// recv counts the answers to the flood's service: single frames on the
// response identifier that are its positive response or a negative
// response other than 0x78 response-pending.
func (f *Flood) recv(sid byte) {
	for {
		fr, err := f.node.Recv(clock.Forever)
		if err != nil {
			return
		}
		if d := fr.Payload(); len(d) < 2 || d[0]>>4 != 0 {
			continue // not a single frame
		}
		msg := firstBytes(&fr)
		f.mu.Lock()
		switch {
		case msg[0] == sid+0x40:
			f.st.Answered++
			f.last = f.clk.Now()
		case len(msg) == 3 && msg[0] == 0x7F && msg[1] == sid && msg[2] != 0x78:
			f.st.Answered++
			f.last = f.clk.Now()
			if msg[2] == 0x21 {
				f.st.Busy++
			}
		}
		f.mu.Unlock()
	}
}

// Stop ends the flood, waits Grace for the last answers, takes the node off
// the bus and returns what it saw. It must run on an actor of the clock.
func (f *Flood) Stop() FloodStats {
	f.mu.Lock()
	f.stop = true
	for !f.exit {
		f.done.Wait(clock.Forever)
	}
	f.mu.Unlock()
	end := f.clk.Now().Add(10 * f.cfg.Grace)
	f.clk.Sleep(f.cfg.Grace)
	for tick := f.cfg.Grace / 10; ; f.clk.Sleep(tick) {
		f.mu.Lock()
		coming, all := f.clk.Now().Sub(f.last) < tick, f.st.Answered >= f.st.Sent
		f.mu.Unlock()
		if !coming || all || !f.clk.Now().Before(end) {
			break
		}
	}
	f.node.Close()
	return f.Stats()
}

// Stats returns what the node saw so far.
func (f *Flood) Stats() FloodStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Lost = max(0, st.Sent-st.Answered)
	return st
}
