package uds

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
)

// Transport carries whole UDS messages: isotp.Conn on a CAN bus, or Pipe.
// Recv's timeout < 0 waits forever.
type Transport interface {
	Send(msg []byte) error
	Recv(timeout time.Duration) ([]byte, error)
}

// isClosed reports whether a transport error means it is gone for good.
func isClosed(err error) bool {
	return errors.Is(err, clock.ErrClosed) || errors.Is(err, isotp.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// isTimeout reports whether a Recv error means no message came in time.
func isTimeout(err error) bool {
	return errors.Is(err, clock.ErrTimeout) || errors.Is(err, isotp.ErrTimeout)
}

// PipeEnd is one end of an in-memory transport on a clock: what one end
// sends, the other receives, in order, without loss.
type PipeEnd struct {
	in, out *clock.Queue[[]byte]
}

// Pipe returns two connected ends (a tester side and an ECU side).
func Pipe(clk clock.Clock) (*PipeEnd, *PipeEnd) {
	ab, ba := clock.NewQueue[[]byte](clk, 0), clock.NewQueue[[]byte](clk, 0)
	return &PipeEnd{in: ba, out: ab}, &PipeEnd{in: ab, out: ba}
}

// Send queues a copy of msg for the other end.
func (p *PipeEnd) Send(msg []byte) error {
	return p.out.Push(append([]byte(nil), msg...), clock.Forever)
}

// Recv returns the next message from the other end.
func (p *PipeEnd) Recv(timeout time.Duration) ([]byte, error) { return p.in.Pop(timeout) }

// Close closes both directions; the other end's Recv returns ErrClosed
// once it has read what was queued.
func (p *PipeEnd) Close() error { p.in.Close(); p.out.Close(); return nil }
