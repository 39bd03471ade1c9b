package clock_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/clock"
)

var _ = Describe("Wall clock", func() {
	It("times queue waits out in real time and hands items across goroutines", func() {
		w := clock.NewWall()
		Expect(w.Simulated()).To(BeFalse())
		q := clock.NewQueue[int](w, 1)
		t0 := time.Now()
		_, err := q.Pop(20 * time.Millisecond)
		Expect(err).To(MatchError(clock.ErrTimeout))
		Expect(time.Since(t0)).To(BeNumerically(">=", 20*time.Millisecond))

		w.Go("pusher", func() {
			w.Sleep(10 * time.Millisecond)
			Expect(q.Push(5, clock.Forever)).To(Succeed())
		})
		v, err := q.Pop(5 * time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal(5))

		Expect(q.Push(1, 0)).To(Succeed())
		t0 = time.Now()
		Expect(q.Push(2, 15*time.Millisecond)).To(MatchError(clock.ErrTimeout))
		Expect(time.Since(t0)).To(BeNumerically(">=", 15*time.Millisecond))
		w.AfterFunc(10*time.Millisecond, func() { _, _ = q.Pop(0) })
		Expect(q.Push(2, 5*time.Second)).To(Succeed())

		done := make(chan error)
		go func() { _, err := clock.NewQueue[int](w, 0).Pop(0); done <- err }()
		Eventually(done).Should(Receive(MatchError(clock.ErrTimeout)))
	})

	It("signals and broadcasts condition waiters, and times a wait out", func() {
		w := clock.NewWall()
		var mu sync.Mutex
		c := w.NewCond(&mu)
		woke := make(chan bool, 3)
		ready := sync.WaitGroup{}
		for range 2 {
			ready.Add(1)
			go func() {
				mu.Lock()
				ready.Done()
				woke <- c.Wait(clock.Forever)
				mu.Unlock()
			}()
		}
		ready.Wait()
		mu.Lock() // both are waiting once they released the lock
		c.Signal()
		mu.Unlock()
		Eventually(woke).Should(Receive(BeTrue()))
		Consistently(woke, 30*time.Millisecond).ShouldNot(Receive())
		mu.Lock()
		c.Broadcast()
		mu.Unlock()
		Eventually(woke).Should(Receive(BeTrue()))

		mu.Lock()
		t0 := time.Now()
		Expect(c.Wait(20 * time.Millisecond)).To(BeFalse())
		Expect(time.Since(t0)).To(BeNumerically(">=", 20*time.Millisecond))
		mu.Unlock()
	})

	It("jumps Now forward, and a Jump does not cut a queue wait short", func() {
		w := clock.NewWall()
		before := w.Now()
		w.Jump(time.Hour)
		Expect(w.Since(before)).To(BeNumerically(">=", time.Hour))
		q := clock.NewQueue[int](w, 0)
		t0 := time.Now()
		w.AfterFunc(5*time.Millisecond, func() { w.Jump(time.Hour) })
		_, err := q.Pop(30 * time.Millisecond)
		Expect(err).To(MatchError(clock.ErrTimeout))
		Expect(time.Since(t0)).To(BeNumerically(">=", 30*time.Millisecond))
	})
})
