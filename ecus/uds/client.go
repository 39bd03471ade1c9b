package uds

import (
	"encoding/binary"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// Client defaults.
const (
	// DefaultSlack is added to the server's P2 and P2* for the transport:
	// it covers a 4095-byte response over ISO-TP on 500 kbit/s classic CAN.
	DefaultSlack       = 250 * time.Millisecond
	DefaultBusyRetries = 5
	DefaultBusyDelay   = 250 * time.Millisecond
	// DefaultMaxPendingTime bounds how long a server may keep answering
	// 0x78 response-pending to one request.
	DefaultMaxPendingTime = 10 * time.Minute
)

// ClientConfig configures a Client; zero fields take the defaults.
type ClientConfig struct {
	// P2 and P2Star are the server's response times until a
	// DiagnosticSessionControl response announces others (defaults
	// DefaultP2, DefaultP2Star). The client waits them plus Slack.
	P2, P2Star, Slack time.Duration
	// BusyRetries is how often a request answered busyRepeatRequest (0x21)
	// is repeated, after BusyDelay.
	BusyRetries int
	BusyDelay   time.Duration
	// MaxPendingTime bounds the wait through 0x78 response-pending.
	MaxPendingTime time.Duration
}

// Client is the tester side of UDS: one request at a time, on the caller's
// actor.
type Client struct {
	t   Transport
	clk clock.Clock
	cfg ClientConfig
}

// NewClient returns a client on t.
func NewClient(t Transport, clk clock.Clock, cfg ClientConfig) *Client {
	if cfg.P2 <= 0 {
		cfg.P2 = DefaultP2
	}
	if cfg.P2Star <= 0 {
		cfg.P2Star = DefaultP2Star
	}
	if cfg.Slack <= 0 {
		cfg.Slack = DefaultSlack
	}
	if cfg.BusyRetries == 0 {
		cfg.BusyRetries = DefaultBusyRetries
	}
	if cfg.BusyDelay <= 0 {
		cfg.BusyDelay = DefaultBusyDelay
	}
	if cfg.MaxPendingTime <= 0 {
		cfg.MaxPendingTime = DefaultMaxPendingTime
	}
	return &Client{t: t, clk: clk, cfg: cfg}
}

// Clock returns the client's clock.
func (c *Client) Clock() clock.Clock { return c.clk }

// Timing returns the server response times the client now assumes.
func (c *Client) Timing() (p2, p2Star time.Duration) { return c.cfg.P2, c.cfg.P2Star }

// Do sends a request and returns its positive response. It waits P2 (P2*
// after each 0x78 response-pending), repeats a request answered
// busyRepeatRequest, skips responses to other requests, and returns a
// *NegativeResponse, *TimeoutError or *ProtocolError naming the service.
func (c *Client) Do(req []byte) ([]byte, error) {
	if len(req) == 0 {
		return nil, protoErr(0, "empty request")
	}
	sid := Service(req[0])
	for attempt := 0; ; attempt++ {
		if err := c.t.Send(req); err != nil {
			return nil, &sendError{sid, err}
		}
		resp, err := c.await(sid)
		if IsNRC(err, BusyRepeatRequest) && attempt < c.cfg.BusyRetries {
			c.clk.Sleep(c.cfg.BusyDelay)
			continue
		}
		return resp, err
	}
}

type sendError struct {
	sid Service
	err error
}

func (e *sendError) Error() string { return "uds: " + e.sid.String() + ": send: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// await waits for the response to a request of service sid. Any other
// message that comes meanwhile (a late answer to an earlier request,
// another tester's answers on the same identifiers) is skipped, however
// many come: only P2 (P2* after a response-pending) ends the wait, as in
// ISO 14229-2's client timing. A tester that gave up after so many of them
// would hand a flood of answers on its response identifier the denial of
// service the flood is after, even from an ECU that answers the flood busy
// and the tester in time. Only broken messages (reception errors) are
// counted: a transport that fails at every call may not move the clock
// towards the deadline.
func (c *Client) await(sid Service) ([]byte, error) {
	timer, wait := "P2", c.cfg.P2+c.cfg.Slack
	pending, broken := 0, 0
	start := c.clk.Now()
	deadline := start.Add(wait)
	for {
		left := deadline.Sub(c.clk.Now())
		if left <= 0 {
			return nil, &TimeoutError{Service: sid, After: wait, Timer: timer, Pending: pending}
		}
		m, err := c.t.Recv(left)
		if err != nil {
			if isTimeout(err) {
				return nil, &TimeoutError{Service: sid, After: wait, Timer: timer, Pending: pending}
			}
			if isClosed(err) {
				return nil, &sendError{sid, err}
			}
			// a broken message: keep waiting for a good one, but not
			// on a transport that fails every time (it may fail at once,
			// without the clock moving towards the deadline)
			if broken++; broken > 64 {
				return nil, protoErr(sid, "reception keeps failing: %v", err)
			}
			continue
		}
		switch {
		case len(m) >= 1 && m[0] == byte(sid)+PositiveOffset:
			return m, nil
		case len(m) == 3 && m[0] == NegativeResponseSID && m[1] == byte(sid):
			code := NRC(m[2])
			if code != ResponsePending {
				return nil, &NegativeResponse{Service: sid, Code: code}
			}
			pending++
			if c.clk.Now().Sub(start) > c.cfg.MaxPendingTime {
				return nil, &TimeoutError{Service: sid, After: c.cfg.MaxPendingTime, Timer: "response-pending limit", Pending: pending}
			}
			timer, wait = "P2*", c.cfg.P2Star+c.cfg.Slack
			deadline = c.clk.Now().Add(wait)
		default:
			// a late answer to an earlier request, or noise
		}
	}
}

// send sends a request whose positive response is suppressed.
func (c *Client) send(req []byte) error {
	if err := c.t.Send(req); err != nil {
		return &sendError{Service(req[0]), err}
	}
	return nil
}

// StartSession is DiagnosticSessionControl. It returns the P2 and P2*
// the server announced and uses them from now on.
func (c *Client) StartSession(s Session) (p2, p2Star time.Duration, err error) {
	resp, err := c.Do([]byte{byte(DiagnosticSessionControl), byte(s)})
	if err != nil {
		return 0, 0, err
	}
	if len(resp) != 6 || resp[1] != byte(s) {
		return 0, 0, protoErr(DiagnosticSessionControl, "% X for %s", resp, s)
	}
	p2 = time.Duration(binary.BigEndian.Uint16(resp[2:])) * time.Millisecond
	p2Star = time.Duration(binary.BigEndian.Uint16(resp[4:])) * 10 * time.Millisecond
	if p2 > 0 {
		c.cfg.P2 = p2
	}
	if p2Star > 0 {
		c.cfg.P2Star = p2Star
	}
	return p2, p2Star, nil
}

// Reset is ECUReset.
func (c *Client) Reset(kind ResetType) error {
	resp, err := c.Do([]byte{byte(ECUReset), byte(kind)})
	if err != nil {
		return err
	}
	if len(resp) < 2 || resp[1] != byte(kind) {
		return protoErr(ECUReset, "% X for reset type 0x%02X", resp, byte(kind))
	}
	return nil
}

// ReadDID is ReadDataByIdentifier of one identifier.
func (c *Client) ReadDID(did uint16) ([]byte, error) {
	resp, err := c.Do([]byte{byte(ReadDataByIdentifier), byte(did >> 8), byte(did)})
	if err != nil {
		return nil, err
	}
	if len(resp) < 3 || binary.BigEndian.Uint16(resp[1:]) != did {
		return nil, protoErr(ReadDataByIdentifier, "response does not echo identifier 0x%04X", did)
	}
	return resp[3:], nil
}

// WriteDID is WriteDataByIdentifier.
func (c *Client) WriteDID(did uint16, data []byte) error {
	req := append([]byte{byte(WriteDataByIdentifier), byte(did >> 8), byte(did)}, data...)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	if len(resp) != 3 || binary.BigEndian.Uint16(resp[1:]) != did {
		return protoErr(WriteDataByIdentifier, "response does not echo identifier 0x%04X", did)
	}
	return nil
}

// Routine is RoutineControl; it returns the routineStatusRecord.
func (c *Client) Routine(ctl RoutineControlType, id uint16, params []byte) ([]byte, error) {
	req := append([]byte{byte(RoutineControl), byte(ctl), byte(id >> 8), byte(id)}, params...)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if len(resp) < 4 || resp[1] != byte(ctl) || binary.BigEndian.Uint16(resp[2:]) != id {
		return nil, protoErr(RoutineControl, "response does not echo %s of routine 0x%04X", ctl, id)
	}
	return resp[4:], nil
}

// FileTransfer is RequestFileTransfer.
func (c *Client) FileTransfer(r FileRequest) (FileTransferResponse, error) {
	resp, err := c.Do(r.Encode())
	if err != nil {
		return FileTransferResponse{}, err
	}
	return ParseFileTransferResponse(resp, r.Mode)
}

// TransferData sends one block (download; data may be empty for an
// upload) and returns the transferResponseParameterRecord (the data of
// an upload block).
func (c *Client) TransferData(bsc byte, data []byte) ([]byte, error) {
	resp, err := c.Do(append([]byte{byte(TransferData), bsc}, data...))
	if err != nil {
		return nil, err
	}
	if len(resp) < 2 || resp[1] != bsc {
		return nil, protoErr(TransferData, "response does not echo block %d", bsc)
	}
	return resp[2:], nil
}

// TransferExit is RequestTransferExit.
func (c *Client) TransferExit() error {
	_, err := c.Do([]byte{byte(RequestTransferExit)})
	return err
}

// TesterPresent keeps a non-default session open; with suppress it does
// not wait for an answer.
func (c *Client) TesterPresent(suppress bool) error {
	if suppress {
		return c.send([]byte{byte(TesterPresent), SuppressPosRsp})
	}
	resp, err := c.Do([]byte{byte(TesterPresent), 0})
	if err != nil {
		return err
	}
	if len(resp) != 2 || resp[1] != 0 {
		return protoErr(TesterPresent, "% X", resp)
	}
	return nil
}
