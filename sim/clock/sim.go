package clock

import (
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// Epoch is the default start of simulated time: a fixed instant, so that
// every run (and every signed document's expiry) replays byte for byte.
var Epoch = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// Sim is the deterministic discrete-event clock. Create it with NewSim, start
// the run with Run.
type Sim struct {
	mu       sync.Mutex
	now      time.Time
	seq      uint64
	timers   timerHeap
	runq     []*actor
	current  *actor
	live     map[*actor]struct{}
	yield    chan struct{}
	nextID   uint64
	stopping bool
	rootDone bool
	failure  error
	horizon  time.Duration
	jumped   time.Duration // total of the Jumps
	start    time.Time
	switches uint64
	fired    uint64
	// events from outside the simulation (External)
	holds    int
	injected []func()
	kick     chan struct{}
}

// NewSim returns a simulated clock that starts at start (Epoch when zero).
func NewSim(start time.Time) *Sim {
	if start.IsZero() {
		start = Epoch
	}
	return &Sim{now: start, start: start, live: map[*actor]struct{}{}, yield: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// SetHorizon makes Run fail with a HorizonError when simulated time would pass
// start+d: a guard against runs that never end. Zero means no horizon.
func (s *Sim) SetHorizon(d time.Duration) { s.mu.Lock(); s.horizon = d; s.mu.Unlock() }

type actor struct {
	id   uint64
	name string
	wake chan struct{}
	// what the actor is blocked on, for deadlock reports
	blocked string
	// the storage of its Sleep timer and of its Cond.Wait: an actor is in
	// at most one of them at a time, and each has ended (fired, or been
	// taken off every list) before the actor runs again
	sleep timer
	wait  condWaiter
}

type timer struct {
	when   time.Time
	at     int64 // when, in Unix nanoseconds: the heap's key
	seq    uint64
	idx    int
	actor  *actor      // wake this actor (Sleep)
	waiter *condWaiter // a Cond.Wait that times out (run with s.mu held)
	fn     func()      // user callback, run without s.mu
	s      *Sim
	fired  bool
}

// Now returns the simulated time.
func (s *Sim) Now() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.now }

func (s *Sim) monoNow() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.now.Add(-s.jumped) }

// Since returns the simulated time elapsed since t.
func (s *Sim) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

// Simulated reports true.
func (s *Sim) Simulated() bool { return true }

// Elapsed returns how much simulated time has passed since the start.
func (s *Sim) Elapsed() time.Duration { return s.Since(s.start) }

// Stats returns the number of actor switches and timers fired so far.
func (s *Sim) Stats() (switches, timersFired uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.switches, s.fired
}

// Jump moves simulated time forward by d and shifts every pending timer by d
// too, so durations being waited on are unchanged.
func (s *Sim) Jump(d time.Duration) {
	if d <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
	s.jumped += d
	for _, t := range s.timers {
		t.when = t.when.Add(d)
		t.at = t.when.UnixNano()
	}
}

// Go starts f as an actor. It runs when the scheduler hands it the baton.
func (s *Sim) Go(name string, f func()) {
	s.mu.Lock()
	a := s.newActorLocked(name)
	s.mu.Unlock()
	go s.runActor(a, f, false)
}

func (s *Sim) newActorLocked(name string) *actor {
	s.nextID++
	a := &actor{id: s.nextID, name: name, wake: make(chan struct{})}
	s.live[a] = struct{}{}
	s.runq = append(s.runq, a)
	return a
}

type stopSignal struct{}

func (s *Sim) runActor(a *actor, f func(), root bool) {
	<-a.wake
	defer func() {
		r := recover()
		s.mu.Lock()
		if r != nil {
			if _, ok := r.(stopSignal); !ok && s.failure == nil {
				s.failure = &PanicError{Actor: a.name, Value: r, Stack: string(debug.Stack())}
			}
		}
		if root {
			s.rootDone = true
		}
		delete(s.live, a)
		s.current = nil
		s.dispatchLocked(nil)
	}()
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		return
	}
	f()
}

// park gives the baton back to the scheduler and waits to be woken. The
// caller holds s.mu; park releases it. When the run is stopping, the caller
// must restore its own invariants (relock what it holds) and then call
// s.unwind().
func (s *Sim) park(a *actor, why string) (stopping bool) {
	a.blocked = why
	s.current = nil
	s.dispatchLocked(a)
	a.blocked = ""
	stopping = s.stopping
	s.mu.Unlock()
	return stopping
}

// dispatchLocked is the scheduler, run by the goroutine that gives up the
// baton: an actor that parks (self) or ends (self nil). It fires the timers
// that are due and runs their callbacks itself, at most hands the baton to
// one other actor, and returns when self runs again (with s.mu held) or,
// for an ending actor, once the baton is handed on (s.mu released). When the
// run is over (the root returned, a failure, a deadlock, the horizon) the
// baton goes back to Run's goroutine (s.yield). One hand-over per switch
// instead of two through a scheduler goroutine, and none at all when the
// actor that parks is the next to run (Sleep(0) alone, a timer that wakes
// it): the same order of events, so the same run, only faster.
func (s *Sim) dispatchLocked(self *actor) {
	for {
		if s.failure == nil && !s.rootDone {
			if len(s.runq) > 0 {
				next := s.runq[0]
				s.runq[0] = nil
				s.runq = popFront(s.runq)
				s.current = next
				s.switches++
				if next == self {
					return
				}
				s.mu.Unlock()
				next.wake <- struct{}{}
				break
			}
			if s.externalLocked() {
				s.mu.Lock()
				continue
			}
			if s.fireLocked() {
				continue
			}
			if s.failure == nil {
				s.failure = &DeadlockError{At: s.now, Actors: s.describeLocked()}
			}
		}
		// the run is over: back to Run (which unwinds the actors left)
		s.current = nil
		s.mu.Unlock()
		s.yield <- struct{}{}
		break
	}
	if self != nil {
		<-self.wake
		s.mu.Lock()
	}
}

// fireLocked fires the next timer: it wakes an actor, or runs a callback
// (s.mu released around a user callback). It reports false when no timer
// is pending or the horizon is passed (s.failure set). Called and returns
// with s.mu held.
func (s *Sim) fireLocked() bool {
	if len(s.timers) == 0 {
		return false
	}
	t := s.timers.pop()
	if s.horizon > 0 && t.when.Sub(s.start) > s.horizon {
		s.failure = &HorizonError{Horizon: s.horizon, Actors: s.describeLocked()}
		return false
	}
	t.fired = true
	s.fired++
	if t.when.After(s.now) {
		s.now = t.when
	}
	switch {
	case t.actor != nil:
		s.runq = append(s.runq, t.actor)
	case t.waiter != nil:
		t.waiter.timeoutLocked()
	default:
		s.mu.Unlock()
		s.callback(t.fn)
		s.mu.Lock()
	}
	return true
}

// unwind ends a stopped actor's goroutine, running its deferred calls.
func (s *Sim) unwind() { panic(stopSignal{}) }

func (s *Sim) mustCurrentLocked(op string) *actor {
	if s.current == nil {
		s.mu.Unlock()
		panic("clock: " + op + " called outside a simulated actor (start goroutines with Clock.Go)")
	}
	return s.current
}

// Sleep blocks the calling actor for d of simulated time. Sleep(0) lets the
// other runnable actors go first.
func (s *Sim) Sleep(d time.Duration) {
	s.mu.Lock()
	a := s.mustCurrentLocked("Sleep")
	if d <= 0 {
		s.runq = append(s.runq, a)
	} else {
		a.sleep = timer{actor: a}
		s.addTimerLocked(d, &a.sleep)
	}
	if s.park(a, "sleep") {
		s.unwind()
	}
}

// AfterFunc calls f after d of simulated time, from the scheduler, when no
// actor is running.
func (s *Sim) AfterFunc(d time.Duration, f func()) Timer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addTimerLocked(d, &timer{fn: f})
}

// Run starts root as the first actor and schedules until root returns; the
// actors still alive then are unwound (their deferred calls run). It returns
// a DeadlockError when every actor is blocked with no timer pending, a
// PanicError when an actor panicked, and a HorizonError past the horizon.
func (s *Sim) Run(name string, root func()) error {
	s.mu.Lock()
	a := s.newActorLocked(name)
	s.mu.Unlock()
	go s.runActor(a, root, true)
	s.mu.Lock()
	if s.failure == nil && !s.rootDone {
		// hand the baton to the root; it comes back when the run is over
		next := s.runq[0]
		s.runq[0] = nil
		s.runq = popFront(s.runq)
		s.current = next
		s.switches++
		s.mu.Unlock()
		next.wake <- struct{}{}
		<-s.yield
	} else {
		s.mu.Unlock()
	}
	s.stopAll()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}

func (s *Sim) callback(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			s.mu.Lock()
			if s.failure == nil {
				s.failure = &PanicError{Actor: "timer callback", Value: r, Stack: string(debug.Stack())}
			}
			s.mu.Unlock()
		}
	}()
	fn()
}

// stopAll unwinds every live actor, one at a time.
func (s *Sim) stopAll() {
	for {
		s.mu.Lock()
		s.stopping = true
		var all []*actor
		for a := range s.live {
			all = append(all, a)
		}
		s.runq = nil
		s.mu.Unlock()
		if len(all) == 0 {
			return
		}
		sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
		for _, a := range all {
			s.mu.Lock()
			s.current = a
			s.mu.Unlock()
			select {
			case a.wake <- struct{}{}:
				<-s.yield
			case <-time.After(5 * time.Second):
				// an actor blocked outside the clock: leave it
				s.mu.Lock()
				delete(s.live, a)
				s.mu.Unlock()
			}
		}
	}
}

func (s *Sim) describeLocked() []string {
	var all []*actor
	for a := range s.live {
		all = append(all, a)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	out := make([]string, len(all))
	for i, a := range all {
		why := a.blocked
		if why == "" {
			why = "runnable"
		}
		out[i] = a.name + " (" + why + ")"
	}
	return out
}

// DeadlockError: every actor is blocked and no timer can wake any of them.
type DeadlockError struct {
	At     time.Time
	Actors []string
}

func (e *DeadlockError) Error() string {
	return fmt.Sprintf("clock: simulation deadlock at %s: every actor is blocked and no timer is pending: %s",
		e.At.Format(time.RFC3339Nano), strings.Join(e.Actors, ", "))
}

// PanicError: an actor panicked.
type PanicError struct {
	Actor string
	Value any
	Stack string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("clock: actor %q panicked: %v\n%s", e.Actor, e.Value, e.Stack)
}

// HorizonError: simulated time would pass the horizon set with SetHorizon.
type HorizonError struct {
	Horizon time.Duration
	Actors  []string
}

func (e *HorizonError) Error() string {
	return fmt.Sprintf("clock: simulated time passed the horizon of %s; actors: %s", e.Horizon, strings.Join(e.Actors, ", "))
}

// NewCond returns a condition variable on the simulated clock.
func (s *Sim) NewCond(l sync.Locker) Cond { return &simCond{s: s, l: l} }

type simCond struct {
	s       *Sim
	l       sync.Locker
	waiters []*condWaiter
}

type condWaiter struct {
	a        *actor
	c        *simCond
	done     bool
	signaled bool
	t        *timer
	timer    timer // t's storage
}

// timeoutLocked ends a Wait that timed out.
func (w *condWaiter) timeoutLocked() {
	if !w.done {
		w.done = true
		w.c.removeLocked(w)
		w.c.s.runq = append(w.c.s.runq, w.a)
	}
}

func (c *simCond) Wait(timeout time.Duration) bool {
	s := c.s
	s.mu.Lock()
	a := s.mustCurrentLocked("Cond.Wait")
	if timeout == 0 {
		s.mu.Unlock()
		return false
	}
	w := &a.wait
	*w = condWaiter{a: a, c: c}
	c.waiters = append(c.waiters, w)
	if timeout > 0 {
		w.timer.waiter = w
		w.t = s.addTimerLocked(timeout, &w.timer)
	}
	c.l.Unlock()
	stopping := s.park(a, "wait")
	c.l.Lock()
	if stopping {
		s.unwind()
	}
	return w.signaled
}

func (c *simCond) removeLocked(w *condWaiter) {
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return
		}
	}
}

func (c *simCond) wakeLocked(w *condWaiter) {
	w.done = true
	w.signaled = true
	if w.t != nil {
		c.s.stopLocked(w.t)
	}
	c.s.runq = append(c.s.runq, w.a)
}

func (c *simCond) Signal() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if len(c.waiters) > 0 {
		w := c.waiters[0]
		c.waiters[0] = nil
		c.waiters = popFront(c.waiters)
		c.wakeLocked(w)
	}
}

func (c *simCond) Broadcast() {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, w := range c.waiters {
		c.wakeLocked(w)
	}
	c.waiters = nil
}
