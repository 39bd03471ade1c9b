package clock

import (
	"sync"
	"time"
)

// Queue is a FIFO between actors whose waits run on a Clock. Capacity 0
// means unbounded.
type Queue[T any] struct {
	clk      Clock
	mu       sync.Mutex
	notEmpty Cond
	notFull  Cond
	items    []T
	capacity int
	closed   bool
}

// NewQueue returns an empty queue.
func NewQueue[T any](c Clock, capacity int) *Queue[T] {
	q := &Queue[T]{clk: c, capacity: capacity}
	q.notEmpty = c.NewCond(&q.mu)
	q.notFull = c.NewCond(&q.mu)
	return q
}

// TryPush appends v unless the queue is full or closed.
func (q *Queue[T]) TryPush(v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || (q.capacity > 0 && len(q.items) >= q.capacity) {
		return false
	}
	q.items = append(q.items, v)
	q.notEmpty.Signal()
	return true
}

// Push appends v, waiting up to timeout while the queue is full.
func (q *Queue[T]) Push(v T, timeout time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	deadline := monoNow(q.clk).Add(timeout)
	for !q.closed && q.capacity > 0 && len(q.items) >= q.capacity {
		if !q.waitLocked(q.notFull, timeout, deadline) {
			return ErrTimeout
		}
	}
	if q.closed {
		return ErrClosed
	}
	q.items = append(q.items, v)
	q.notEmpty.Signal()
	return nil
}

// Pop removes the oldest item, waiting up to timeout (Forever: no limit) for
// one. A closed queue still hands out what it holds, then ErrClosed.
func (q *Queue[T]) Pop(timeout time.Duration) (T, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var deadline time.Time
	if len(q.items) == 0 && timeout >= 0 {
		deadline = monoNow(q.clk).Add(timeout)
	}
	for len(q.items) == 0 {
		var zero T
		if q.closed {
			return zero, ErrClosed
		}
		if !q.waitLocked(q.notEmpty, timeout, deadline) {
			if len(q.items) == 0 {
				if q.closed {
					return zero, ErrClosed
				}
				return zero, ErrTimeout
			}
		}
	}
	v := q.items[0]
	var zero T
	q.items[0] = zero
	q.items = popFront(q.items)
	if q.capacity > 0 {
		q.notFull.Signal()
	}
	return v, nil
}

// popFront drops the first element of s (already taken and cleared). The
// last one leaves s empty on its whole backing array, so a queue that runs
// empty, as most do after each item, appends without allocating.
func popFront[T any](s []T) []T {
	if len(s) == 1 {
		return s[:0]
	}
	return s[1:]
}

// waitLocked waits on c until the deadline; false when it passed.
func (q *Queue[T]) waitLocked(c Cond, timeout time.Duration, deadline time.Time) bool {
	if timeout < 0 {
		c.Wait(Forever)
		return true
	}
	left := deadline.Sub(monoNow(q.clk))
	if left <= 0 {
		return false
	}
	return c.Wait(left)
}

// Len returns the number of queued items.
func (q *Queue[T]) Len() int { q.mu.Lock(); defer q.mu.Unlock(); return len(q.items) }

// Close wakes every waiter; Push fails from now on.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.notEmpty.Broadcast()
	q.notFull.Broadcast()
}
