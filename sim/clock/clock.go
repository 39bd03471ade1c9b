// Package clock is the one clock of a run: ISO-TP timers, UDS timeouts,
// metadata expiry and bus timing all read it.
//
// Two implementations share one interface:
//   - Wall: real time, for rigs with real hardware (SocketCAN, physical ECUs).
//   - Sim: a deterministic discrete-event clock. Actors (goroutines started
//     with Go) run one at a time, handing a baton to each other in a fixed
//     order; time moves to the next timer only when every actor is blocked on
//     the clock. A 40-second CAN transfer takes milliseconds of wall time, and
//     a run replays exactly from its seed.
//
// Under Sim every goroutine that blocks (Sleep, Cond.Wait, Queue.Pop) must be
// an actor started with Go or Run; blocking on plain channels or mutexes held
// across a wait stalls the simulation.
package clock

import (
	"errors"
	"sync"
	"time"
)

// Forever is the timeout that never expires.
const Forever time.Duration = -1

// ErrTimeout is returned by waits that time out.
var ErrTimeout = errors.New("clock: timed out")

// ErrClosed is returned by a closed Queue.
var ErrClosed = errors.New("clock: queue closed")

// Clock is the time source and scheduler of a run.
type Clock interface {
	// Now returns the current time (simulated or wall, plus any Jump offset).
	Now() time.Time
	// Since returns the time elapsed since t.
	Since(t time.Time) time.Duration
	// Sleep blocks the calling actor for d.
	Sleep(d time.Duration)
	// Go starts f as a new actor named name.
	Go(name string, f func())
	// AfterFunc calls f once after d. f must not block; it may Signal, Push
	// and schedule more timers.
	AfterFunc(d time.Duration, f func()) Timer
	// NewCond returns a condition variable whose Wait can time out.
	NewCond(l sync.Locker) Cond
	// Jump moves wall-clock time forward by d without waiting: the vehicle
	// was parked for a month, or an attacker froze the world. Pending timers
	// keep their remaining durations (they measure monotonic time).
	Jump(d time.Duration)
	// Simulated reports whether this is a simulated clock.
	Simulated() bool
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the timer; it reports whether the call stopped it
	// before it fired.
	Stop() bool
}

// Cond is a condition variable with a timeout, tied to a Clock.
type Cond interface {
	// Wait atomically unlocks the locker, blocks until Signal or Broadcast
	// or until timeout (Forever: never), and locks again before returning.
	// It reports false when it timed out.
	Wait(timeout time.Duration) bool
	Signal()
	Broadcast()
}

// monotonic is implemented by this package's clocks: a reading that Jump
// does not move, for the deadlines of waits (a Jump must not cut a pending
// wait short, as it does not cut timers short).
type monotonic interface{ monoNow() time.Time }

func monoNow(c Clock) time.Time {
	if m, ok := c.(monotonic); ok {
		return m.monoNow()
	}
	return c.Now()
}
