package aktualizrip

import (
	"fmt"
	"net"
	"time"
)

// Conn carries whole messages between a Primary and a Secondary: over TCP
// (a byte stream: each message is delimited by its own DER length) or over
// ISO-TP (one message per PDU).
type Conn interface {
	Send(msg []byte) error
	// Receive returns the next whole message, at most max bytes; io.EOF when
	// the peer closed between messages.
	Receive(max int) ([]byte, error)
	Close() error
}

// Dialer opens a connection to a Secondary.
type Dialer func() (Conn, error)

// StreamConn is a Conn on a net.Conn (TCP). Timeout bounds each Send and
// each Receive (0: none).
type StreamConn struct {
	C       net.Conn
	Timeout time.Duration
}

func (s *StreamConn) deadline() {
	if s.Timeout > 0 {
		_ = s.C.SetDeadline(time.Now().Add(s.Timeout))
	}
}

// Send implements Conn.
func (s *StreamConn) Send(msg []byte) error {
	s.deadline()
	_, err := s.C.Write(msg)
	return err
}

// Receive implements Conn.
func (s *StreamConn) Receive(max int) ([]byte, error) {
	s.deadline()
	return ReadRaw(s.C, max)
}

// Close implements Conn.
func (s *StreamConn) Close() error { return s.C.Close() }

// TCP dials addr (host:port) for each connection; timeout bounds the dial
// and each message (0: 30 s).
func TCP(addr string, timeout time.Duration) Dialer {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return func() (Conn, error) {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return nil, fmt.Errorf("aktualizr-ip: connect to %s: %w", addr, err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		return &StreamConn{C: c, Timeout: timeout}, nil
	}
}
