package aktualizrip

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Handler is a Secondary's side of the protocol: it answers one request. An
// error drops the connection without an answer (what aktualizr-secondary
// does with a message it does not know).
type Handler interface {
	Handle(req Message) (Message, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(req Message) (Message, error)

// Handle implements Handler.
func (f HandlerFunc) Handle(req Message) (Message, error) { return f(req) }

// Server serves the protocol: messages back to back on a connection, one
// connection at a time (as aktualizr-secondary does).
type Server struct {
	Handler Handler
	// Max caps a request (MaxMessage when 0): a longer one is refused from
	// its length alone and the connection dropped.
	Max int
	// Timeout bounds reading one message once its first byte arrived and
	// writing an answer on TCP (0: 30 s).
	Timeout time.Duration
	// OnError, when set, sees why each connection ended (nil: the peer closed
	// it between messages).
	OnError func(err error)

	mu     sync.Mutex
	l      net.Listener
	active net.Conn
	closed bool
}

// Close stops Serve: it closes the listener and the connection being
// served.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.active != nil {
		s.active.Close()
	}
	if s.l != nil {
		return s.l.Close()
	}
	return nil
}

// ServeConn answers the requests on c until the peer closes it, a request
// cannot be decoded, or the handler refuses one. It closes c.
func (s *Server) ServeConn(c Conn) error {
	defer c.Close()
	for {
		raw, err := c.Receive(s.Max)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		req, err := Decode(raw, s.Max)
		if err != nil {
			return err
		}
		resp, err := s.Handler.Handle(req)
		if err != nil {
			return fmt.Errorf("aktualizr-ip: %s: %w", req.Kind(), err)
		}
		if err := c.Send(Encode(resp)); err != nil {
			return fmt.Errorf("aktualizr-ip: answer %s: %w", req.Kind(), err)
		}
	}
}

// Serve accepts connections on l, one at a time, until l is closed.
func (s *Server) Serve(l net.Listener) error {
	t := s.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.active = nc
		s.mu.Unlock()
		err = s.ServeConn(&serverConn{StreamConn{C: nc, Timeout: t}})
		s.mu.Lock()
		s.active = nil
		s.mu.Unlock()
		if s.OnError != nil {
			s.OnError(err)
		}
	}
}

// serverConn waits without a deadline for the first byte of a request (the
// Primary may keep the connection idle), then bounds the rest.
type serverConn struct{ StreamConn }

func (s *serverConn) Receive(max int) ([]byte, error) {
	_ = s.C.SetDeadline(time.Time{})
	return ReadRaw(&firstByte{s: &s.StreamConn}, max)
}

type firstByte struct {
	s    *StreamConn
	seen bool
}

func (f *firstByte) Read(p []byte) (int, error) {
	n, err := f.s.C.Read(p)
	if n > 0 && !f.seen {
		f.seen = true
		f.s.deadline()
	}
	return n, err
}
