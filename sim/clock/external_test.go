package clock_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/clock"
)

var _ = Describe("Sim clock: events from outside the simulation", func() {
	It("does not move time while an event is held, and delivers it at the current simulated time", func() {
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[string](s, 0)
			start := s.Now()
			s.Hold(1)
			go func() { // a kernel socket's reader: a plain goroutine
				// the real delay under test (a frame in the kernel), not a wait
				time.Sleep(20 * time.Millisecond)
				s.Inject(func() { q.TryPush("frame"); s.Release(1) })
			}()
			// A timeout far shorter than the real delay: held time must not
			// let it expire before the frame arrives.
			v, err := q.Pop(time.Millisecond)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).To(Equal("frame"))
			Expect(s.Since(start)).To(BeZero())
		})
	})

	It("moves time again once every hold is released", func() {
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[int](s, 0)
			s.Hold(2)
			for i := range 2 {
				go func() { s.Inject(func() { q.TryPush(i); s.Release(1) }) }()
			}
			got := map[int]bool{}
			for range 2 {
				v, err := q.Pop(clock.Forever)
				Expect(err).NotTo(HaveOccurred())
				got[v] = true
			}
			Expect(got).To(HaveLen(2))
			start := s.Now()
			_, err := q.Pop(time.Second)
			Expect(err).To(MatchError(clock.ErrTimeout))
			Expect(s.Since(start)).To(Equal(time.Second))
		})
	})

	It("fails the run with an ExternalError when a held event never comes", func() {
		old := clock.ExternalWait
		clock.ExternalWait = 50 * time.Millisecond
		defer func() { clock.ExternalWait = old }()
		err := run(func(s *clock.Sim) {
			s.Hold(1)
			s.Sleep(time.Second)
		})
		var ee *clock.ExternalError
		Expect(errors.As(err, &ee)).To(BeTrue(), "%v", err)
		Expect(ee.Held).To(Equal(1))
		Expect(ee.Error()).To(ContainSubstring("never came"))
	})

	It("runs an injected event that nobody held, without waiting for it", func() {
		mustRun(func(s *clock.Sim) {
			q := clock.NewQueue[string](s, 0)
			s.Go("listener", func() {
				v, err := q.Pop(10 * time.Second)
				Expect(err).NotTo(HaveOccurred())
				Expect(v).To(Equal("foreign"))
			})
			s.Inject(func() { q.TryPush("foreign") })
			s.Sleep(time.Second)
		})
	})
})
