package aktualizrip

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/isotp"
)

// ISOTPConn carries the messages on an ISO-TP channel, one message per
// ISO-TP PDU (a putMetaReq2 of several KiB goes as one long PDU, FF_DL
// escape above 4095 bytes), so that an IP Secondary can sit on a CAN bus
// behind a gateway. Timeout bounds each Receive (negative: wait forever).
// Close leaves the channel open: its owner closes it.
type ISOTPConn struct {
	C       *isotp.Conn
	Timeout time.Duration
}

// Send implements Conn.
func (c *ISOTPConn) Send(msg []byte) error { return c.C.Send(msg) }

// Receive implements Conn: the next PDU, which must be at most max bytes
// (MaxMessage when max <= 0); Decode checks it holds exactly one message.
func (c *ISOTPConn) Receive(max int) ([]byte, error) {
	if max <= 0 {
		max = MaxMessage
	}
	b, err := c.C.Recv(c.Timeout)
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("ISO-TP PDU of %d bytes, more than the limit of %d", len(b), max)}
	}
	return b, nil
}

// Close implements Conn.
func (c *ISOTPConn) Close() error { return nil }
