package clock_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// run runs root on a fresh simulated clock and returns Run's error.
func run(root func(s *clock.Sim)) error {
	s := clock.NewSim(time.Time{})
	return s.Run("root", func() { root(s) })
}

func mustRun(root func(s *clock.Sim)) {
	GinkgoHelper()
	Expect(run(root)).To(Succeed())
}

type log struct {
	mu    sync.Mutex
	lines []string
}

func (l *log) add(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

var _ = Describe("Sim clock", func() {
	It("starts at the Epoch and runs actors one at a time in the order they were started", func() {
		var l log
		mustRun(func(s *clock.Sim) {
			Expect(s.Now()).To(Equal(clock.Epoch))
			Expect(s.Simulated()).To(BeTrue())
			for i := range 3 {
				s.Go(fmt.Sprint("a", i), func() {
					l.add("a%d start", i)
					s.Sleep(0) // yield: everyone runnable goes first, FIFO
					l.add("a%d again", i)
				})
			}
			l.add("root before yield")
			s.Sleep(0)
			l.add("root after yield")
			s.Sleep(time.Millisecond)
		})
		Expect(l.lines).To(Equal([]string{
			"root before yield", "a0 start", "a1 start", "a2 start",
			"root after yield", "a0 again", "a1 again", "a2 again",
		}))
	})

	It("fires sleeps and timers by time, then by creation, and Stop cancels a pending timer", func() {
		var l log
		mustRun(func(s *clock.Sim) {
			s.AfterFunc(20*time.Millisecond, func() { l.add("timer 20 first") })
			s.Go("sleeper", func() { s.Sleep(20 * time.Millisecond); l.add("sleeper 20 at %s", s.Elapsed()) })
			s.Sleep(0) // the sleeper creates its timer now
			s.AfterFunc(20*time.Millisecond, func() { l.add("timer 20 second") })
			s.AfterFunc(10*time.Millisecond, func() { l.add("timer 10 at %s", s.Elapsed()) })
			stopped := s.AfterFunc(15*time.Millisecond, func() { l.add("stopped timer fired") })
			fired := s.AfterFunc(5*time.Millisecond, func() { l.add("timer 5") })
			s.AfterFunc(-time.Second, func() { l.add("negative is now") })
			Expect(stopped.Stop()).To(BeTrue())
			Expect(stopped.Stop()).To(BeFalse(), "already stopped")
			s.Sleep(30 * time.Millisecond)
			Expect(fired.Stop()).To(BeFalse(), "already fired")
			Expect(s.Elapsed()).To(Equal(30 * time.Millisecond))
		})
		Expect(l.lines).To(Equal([]string{
			"negative is now", "timer 5", "timer 10 at 10ms",
			"timer 20 first", "sleeper 20 at 20ms", "timer 20 second",
		}))
	})

	It("times queue waits out at exactly the simulated deadline", func() {
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[int](s, 1)
			_, err := q.Pop(30 * time.Millisecond)
			Expect(err).To(MatchError(clock.ErrTimeout))
			Expect(s.Elapsed()).To(Equal(30 * time.Millisecond))

			_, err = q.Pop(0)
			Expect(err).To(MatchError(clock.ErrTimeout))
			Expect(s.Elapsed()).To(Equal(30*time.Millisecond), "timeout 0 polls")

			s.Go("late pusher", func() { s.Sleep(10 * time.Millisecond); Expect(q.Push(7, clock.Forever)).To(Succeed()) })
			v, err := q.Pop(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).To(Equal(7))
			Expect(s.Elapsed()).To(Equal(40 * time.Millisecond))

			Expect(q.Push(1, 0)).To(Succeed())
			Expect(q.Push(2, 25*time.Millisecond)).To(MatchError(clock.ErrTimeout), "full")
			Expect(s.Elapsed()).To(Equal(65 * time.Millisecond))
			Expect(q.TryPush(3)).To(BeFalse())

			s.Go("late popper", func() { s.Sleep(5 * time.Millisecond); _, _ = q.Pop(0) })
			Expect(q.Push(2, time.Second)).To(Succeed())
			Expect(s.Elapsed()).To(Equal(70 * time.Millisecond))
			Expect(q.Len()).To(Equal(1))

			q.Close()
			v, err = q.Pop(clock.Forever)
			Expect(v, err).To(Equal(2), "a closed queue still hands out what it holds")
			_, err = q.Pop(clock.Forever)
			Expect(err).To(MatchError(clock.ErrClosed))
			Expect(q.Push(9, clock.Forever)).To(MatchError(clock.ErrClosed))
		})
	})

	It("wakes a blocked Pop when the queue is closed", func() {
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[int](s, 0)
			s.Go("closer", func() { s.Sleep(time.Second); q.Close() })
			_, err := q.Pop(clock.Forever)
			Expect(err).To(MatchError(clock.ErrClosed))
			Expect(s.Elapsed()).To(Equal(time.Second))
		})
	})

	It("signals one condition waiter in FIFO order, broadcasts to all, and times waits out", func() {
		var l log
		mustRun(func(s *clock.Sim) {
			var mu sync.Mutex
			c := s.NewCond(&mu)
			for i := range 3 {
				s.Go(fmt.Sprint("w", i), func() {
					mu.Lock()
					ok := c.Wait(clock.Forever)
					l.add("w%d woke %v at %s", i, ok, s.Elapsed())
					mu.Unlock()
				})
			}
			s.Go("timeout", func() {
				mu.Lock()
				ok := c.Wait(15 * time.Millisecond)
				l.add("timeout woke %v at %s", ok, s.Elapsed())
				mu.Unlock()
			})
			s.Sleep(10 * time.Millisecond)
			mu.Lock()
			c.Signal()
			mu.Unlock()
			s.Sleep(10 * time.Millisecond)
			mu.Lock()
			c.Broadcast()
			mu.Unlock()
			s.Sleep(10 * time.Millisecond)
			mu.Lock()
			Expect(c.Wait(0)).To(BeFalse())
			mu.Unlock()
		})
		Expect(l.lines).To(Equal([]string{
			"w0 woke true at 10ms",
			"timeout woke false at 15ms",
			"w1 woke true at 20ms",
			"w2 woke true at 20ms",
		}))
	})

	It("jumps wall time forward without shortening pending waits", func() {
		mustRun(func(s *clock.Sim) {
			var wokeAt time.Time
			s.Go("sleeper", func() { s.Sleep(10 * time.Millisecond); wokeAt = s.Now() })
			fired := time.Time{}
			s.AfterFunc(20*time.Millisecond, func() { fired = s.Now() })
			s.Sleep(5 * time.Millisecond)
			s.Jump(30 * 24 * time.Hour)
			s.Jump(-time.Hour) // ignored: time never goes back
			Expect(s.Now()).To(Equal(clock.Epoch.Add(30*24*time.Hour + 5*time.Millisecond)))
			s.Sleep(time.Second)
			Expect(wokeAt).To(Equal(clock.Epoch.Add(30*24*time.Hour + 10*time.Millisecond)))
			Expect(fired).To(Equal(clock.Epoch.Add(30*24*time.Hour + 20*time.Millisecond)))
		})
	})

	It("keeps a queue wait's remaining time across a Jump, even when woken without an item", func() {
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[int](s, 0)
			var err error
			var at time.Duration
			s.Go("patient", func() {
				_, err = q.Pop(100 * time.Millisecond)
				at = s.Elapsed()
			})
			s.Sleep(10 * time.Millisecond)
			s.Jump(time.Hour)
			s.Sleep(10 * time.Millisecond)
			// signal the patient waiter, but take the item first
			Expect(q.TryPush(1)).To(BeTrue())
			_, perr := q.Pop(0)
			Expect(perr).NotTo(HaveOccurred())
			s.Sleep(time.Second)
			Expect(err).To(MatchError(clock.ErrTimeout))
			Expect(at).To(Equal(time.Hour + 100*time.Millisecond))
		})
	})

	It("reports a deadlock naming every blocked actor", func() {
		err := run(func(s *clock.Sim) {
			q := clock.NewQueue[int](s, 0)
			s.Go("ecu-1", func() { _, _ = q.Pop(clock.Forever) })
			s.Go("ecu-2", func() { s.Sleep(time.Second); _, _ = q.Pop(clock.Forever) })
			_, _ = q.Pop(clock.Forever)
		})
		var de *clock.DeadlockError
		Expect(errors.As(err, &de)).To(BeTrue(), "got %v", err)
		Expect(de.Actors).To(Equal([]string{"root (wait)", "ecu-1 (wait)", "ecu-2 (wait)"}))
		Expect(de.At).To(Equal(clock.Epoch.Add(time.Second)))
		Expect(de.Error()).To(ContainSubstring("ecu-2 (wait)"))
	})

	It("turns an actor's panic into a PanicError naming the actor", func() {
		err := run(func(s *clock.Sim) {
			s.Go("flaky", func() { s.Sleep(time.Millisecond); panic("boom") })
			s.Sleep(time.Hour)
		})
		var pe *clock.PanicError
		Expect(errors.As(err, &pe)).To(BeTrue(), "got %v", err)
		Expect(pe.Actor).To(Equal("flaky"))
		Expect(pe.Value).To(Equal("boom"))
		Expect(pe.Stack).To(ContainSubstring("sim_test.go"))

		err = run(func(s *clock.Sim) {
			s.AfterFunc(time.Millisecond, func() { panic("in a timer") })
			s.Sleep(time.Second)
		})
		Expect(errors.As(err, &pe)).To(BeTrue())
		Expect(pe.Actor).To(Equal("timer callback"))
	})

	It("refuses to go past the horizon", func() {
		s := clock.NewSim(time.Time{})
		s.SetHorizon(time.Minute)
		err := s.Run("root", func() {
			s.Go("spinner", func() {
				for {
					s.Sleep(time.Second)
				}
			})
			s.Sleep(time.Hour)
		})
		var he *clock.HorizonError
		Expect(errors.As(err, &he)).To(BeTrue(), "got %v", err)
		Expect(he.Horizon).To(Equal(time.Minute))
		Expect(he.Actors).To(ContainElement("spinner (sleep)"))
		Expect(s.Elapsed()).To(BeNumerically("<=", time.Minute))
	})

	It("unwinds the actors still alive when the root returns, running their deferred calls", func() {
		var l log
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[int](s, 0)
			s.Go("waiter", func() {
				defer l.add("waiter unwound")
				_, _ = q.Pop(clock.Forever)
				l.add("waiter must not get here")
			})
			s.Go("sleeper", func() {
				defer l.add("sleeper unwound")
				s.Sleep(time.Hour)
			})
			s.Sleep(time.Millisecond)
			s.Go("started too late", func() { l.add("must not run either") })
		})
		Expect(l.lines).To(Equal([]string{"waiter unwound", "sleeper unwound"}))
	})

	It("panics with a clear message when a goroutine outside the clock sleeps", func() {
		s := clock.NewSim(time.Time{})
		Expect(func() { s.Sleep(time.Second) }).To(PanicWith(ContainSubstring("outside a simulated actor")))
	})

	It("replays the same program to the same trace", func() {
		program := func() []string {
			GinkgoHelper()
			var l log
			s := clock.NewSim(time.Time{})
			Expect(s.Run("root", func() {
				q := clock.NewQueue[string](s, 4)
				r := rand.New(rand.NewPCG(1, 2))
				for i := range 8 {
					d := time.Duration(r.IntN(5)) * time.Millisecond
					s.Go(fmt.Sprint("p", i), func() {
						for j := range 20 {
							s.Sleep(d)
							Expect(q.Push(fmt.Sprintf("p%d.%d", i, j), clock.Forever)).To(Succeed())
						}
					})
				}
				for range 160 {
					v, err := q.Pop(time.Second)
					Expect(err).NotTo(HaveOccurred())
					l.add("%s %s", s.Elapsed(), v)
				}
			})).To(Succeed())
			sw, fired := s.Stats()
			l.add("switches %d timers %d", sw, fired)
			return l.lines
		}
		a, b := program(), program()
		Expect(a).To(HaveLen(161))
		Expect(a).To(Equal(b))
		Expect(strings.Join(a, "\n")).To(ContainSubstring("p7.19"))
	})
})
