package clock

import (
	"sync"
	"time"
)

// Wall is real time, optionally shifted by Jump.
type Wall struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewWall returns a wall clock.
func NewWall() *Wall { return &Wall{} }

func (w *Wall) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Now().Add(w.offset)
}
func (w *Wall) monoNow() time.Time              { return time.Now() }
func (w *Wall) Since(t time.Time) time.Duration { return w.Now().Sub(t) }
func (w *Wall) Sleep(d time.Duration)           { time.Sleep(d) }
func (w *Wall) Go(_ string, f func())           { go f() }
func (w *Wall) Simulated() bool                 { return false }
func (w *Wall) Jump(d time.Duration) {
	w.mu.Lock()
	w.offset += d
	w.mu.Unlock()
}

func (w *Wall) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func (w *Wall) NewCond(l sync.Locker) Cond { return &wallCond{l: l} }

type wallCond struct {
	l       sync.Locker
	mu      sync.Mutex
	waiters []chan struct{}
}

func (c *wallCond) Wait(timeout time.Duration) bool {
	ch := make(chan struct{})
	c.mu.Lock()
	c.waiters = append(c.waiters, ch)
	c.mu.Unlock()
	c.l.Unlock()
	defer c.l.Lock()
	if timeout < 0 {
		<-ch
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiters {
		if w == ch {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return false
		}
	}
	return true // signalled while timing out
}

func (c *wallCond) Signal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) > 0 {
		close(c.waiters[0])
		c.waiters = c.waiters[1:]
	}
}

func (c *wallCond) Broadcast() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiters {
		close(w)
	}
	c.waiters = nil
}
