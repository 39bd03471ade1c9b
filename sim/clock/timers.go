package clock

import (
	"sync"
	"time"
)

// timerHeap is the Sim's pending timers, a binary min-heap ordered by due
// time, then by creation (seq): timers due at the same instant fire in the
// order they were set. Hand-written on the int64 key (no container/heap
// interface calls, no time.Time comparisons): the scheduler pushes and
// pops a timer for every frame of a timed bus.
type timerHeap []*timer

func (h timerHeap) less(a, b *timer) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (h *timerHeap) push(t *timer) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

// pop removes and returns the first timer.
func (h *timerHeap) pop() *timer {
	return h.remove(0)
}

// remove takes the timer at index i out of the heap.
func (h *timerHeap) remove(i int) *timer {
	old := *h
	n := len(old) - 1
	t := old[i]
	if i != n {
		old[i] = old[n]
		old[i].idx = i
	}
	old[n] = nil
	*h = old[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	t.idx = -1
	return t
}

func (h timerHeap) up(i int) {
	t := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(t, h[p]) {
			break
		}
		h[i] = h[p]
		h[i].idx = i
		i = p
	}
	h[i] = t
	t.idx = i
}

// down sifts the timer at i down; it reports whether it moved.
func (h timerHeap) down(i0 int) bool {
	n := len(h)
	t := h[i0]
	i := i0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h.less(h[r], h[c]) {
			c = r
		}
		if !h.less(h[c], t) {
			break
		}
		h[i] = h[c]
		h[i].idx = i
		i = c
	}
	h[i] = t
	t.idx = i
	return i > i0
}

// first returns the next timer to fire, nil when none is pending.
func (h timerHeap) first() *timer {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (t *timer) Stop() bool { t.s.mu.Lock(); defer t.s.mu.Unlock(); return t.s.stopLocked(t) }

func (s *Sim) stopLocked(t *timer) bool {
	if t.fired || t.idx < 0 {
		return false
	}
	s.timers.remove(t.idx)
	return true
}

func (s *Sim) addTimerLocked(d time.Duration, t *timer) *timer {
	if d < 0 {
		d = 0
	}
	t.when = s.now.Add(d)
	t.at = t.when.UnixNano()
	t.seq = s.seq
	t.s = s
	t.fired = false
	s.seq++
	s.timers.push(t)
	return t
}

// Alarm is a timer that is set again and again for the same callback (the
// end of each frame on a timed bus): Set costs no allocation, where every
// AfterFunc makes a new Timer.
type Alarm interface {
	// Set schedules the callback after d (from now), moving a pending one:
	// it fires once, as an AfterFunc set now would, in the same order
	// among the timers due at the same instant.
	Set(d time.Duration)
	// Stop cancels the pending callback; it reports whether one was.
	Stop() bool
}

// NewAlarm returns an Alarm that calls f on c. f runs as an AfterFunc
// callback does.
func NewAlarm(c Clock, f func()) Alarm {
	if s, ok := c.(*Sim); ok {
		a := &simAlarm{}
		a.t.fn, a.t.s, a.t.idx = f, s, -1
		return a
	}
	return &funcAlarm{c: c, f: f}
}

type simAlarm struct{ t timer }

func (a *simAlarm) Set(d time.Duration) {
	s := a.t.s
	s.mu.Lock()
	if a.t.idx >= 0 {
		s.timers.remove(a.t.idx)
	}
	s.addTimerLocked(d, &a.t)
	s.mu.Unlock()
}

func (a *simAlarm) Stop() bool { return a.t.Stop() }

// funcAlarm is an Alarm on any Clock, made of AfterFuncs (on the wall
// clock their callbacks run on goroutines of their own: mu).
type funcAlarm struct {
	c  Clock
	f  func()
	mu sync.Mutex
	t  Timer
}

func (a *funcAlarm) Set(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.t != nil {
		a.t.Stop()
	}
	a.t = a.c.AfterFunc(d, a.f)
}

func (a *funcAlarm) Stop() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.t == nil {
		return false
	}
	return a.t.Stop()
}

// QuietUntil reports, from a timer callback of a simulated run, whether
// nothing else can happen before the instant t: no actor is runnable, no
// event from outside is pending or held, and no timer is due at or before
// t. A caller that is about to set a timer for t to act then (a bus that
// becomes free at t and will arbitrate) may act right away instead, as of
// t: nothing could have changed what it sees in between. It is false once
// the run is over, and past the horizon.
func (s *Sim) QuietUntil(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.runq) > 0 || len(s.injected) > 0 || s.holds > 0 || s.failure != nil || s.rootDone || s.stopping {
		return false
	}
	if s.horizon > 0 && t.Sub(s.start) > s.horizon {
		return false
	}
	if f := s.timers.first(); f != nil && f.at <= t.UnixNano() {
		return false
	}
	return true
}
