package clock

import (
	"fmt"
	"time"
)

// External is a clock that can wait for events from outside the simulation:
// frames that a SocketCAN socket sends through the kernel and another socket
// of the same run reads back. Simulated time stands still while any event
// is held: the scheduler runs the actors that can run, then waits in real
// time for the held events to be injected, and only then moves time on.
// So a run on vcan keeps the simulated clock's exact timeouts and time
// travel, with every frame really crossing the kernel.
//
// Every node on such a bus must belong to the run: an ECU in another
// process or on a wire answers in real time, which a simulated clock does
// not wait for (a rig with those runs on Wall).
type External interface {
	Clock
	// Hold announces n events that will be injected; time does not move
	// until they are released.
	Hold(n int)
	// Release ends n holds (an injected event's callback releases its own;
	// a sender whose write failed releases what it held).
	Release(n int)
	// Inject runs f in the scheduler, at the current simulated time, when
	// no actor is running (like an AfterFunc callback). Safe from any
	// goroutine.
	Inject(f func())
}

// ExternalWait is how long the scheduler waits in real time for a held
// event before it fails the run with an ExternalError.
var ExternalWait = 60 * time.Second

// ExternalError: events held from outside the simulation never came.
type ExternalError struct {
	At     time.Time
	Held   int
	Waited time.Duration
	Actors []string
}

func (e *ExternalError) Error() string {
	return fmt.Sprintf("clock: at %s the simulation waited %s of real time for %d held events from outside it (frames through SocketCAN) that never came; lost frames (a receive-buffer overrun) or a node outside this process; actors: %v",
		e.At.Format(time.RFC3339Nano), e.Waited, e.Held, e.Actors)
}

var _ External = (*Sim)(nil)

// Hold implements External.
func (s *Sim) Hold(n int) {
	s.mu.Lock()
	s.holds += n
	s.mu.Unlock()
}

// Release implements External.
func (s *Sim) Release(n int) {
	s.mu.Lock()
	s.holds -= n
	if s.holds < 0 {
		s.holds = 0
	}
	s.mu.Unlock()
	s.kickExternal()
}

// Inject implements External.
func (s *Sim) Inject(f func()) {
	s.mu.Lock()
	s.injected = append(s.injected, f)
	s.mu.Unlock()
	s.kickExternal()
}

func (s *Sim) kickExternal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// externalLocked runs injected callbacks, or waits in real time for held
// events. It reports whether the scheduler should look again (true) or go
// on to the timers (false). Called with s.mu held; returns with it released
// when it reports true.
func (s *Sim) externalLocked() bool {
	if len(s.injected) > 0 {
		fns := s.injected
		s.injected = nil
		s.mu.Unlock()
		for _, f := range fns {
			s.callback(f)
		}
		return true
	}
	if s.holds == 0 {
		return false
	}
	s.mu.Unlock()
	t := time.NewTimer(ExternalWait)
	defer t.Stop()
	select {
	case <-s.kick:
	case <-t.C:
		s.mu.Lock()
		if len(s.injected) == 0 && s.holds > 0 && s.failure == nil {
			s.failure = &ExternalError{At: s.now, Held: s.holds, Waited: ExternalWait, Actors: s.describeLocked()}
		}
		s.mu.Unlock()
	}
	return true
}
