package isotp

import (
	"errors"
	"fmt"
)

// Kind classifies an Error so callers can tell timeouts from protocol
// errors from overflow without parsing messages.
type Kind uint8

// The kinds of Error.
const (
	// KindTimeout: a protocol timer ran out (Error.Timer names it: N_As,
	// N_Ar, N_Bs, N_Cr) or Recv found no message within its timeout
	// (Timer "").
	KindTimeout Kind = iota + 1
	// KindProtocol: the peer broke ISO 15765-2: wrong sequence number, a
	// reception aborted by a new first or single frame, an invalid flow
	// status, a malformed flow control frame, more FC WAIT than N_WFTmax.
	KindProtocol
	// KindOverflow: the peer answered FC OVFLW to our first frame, or a
	// peer announced a message larger than our receive limit (we answered
	// FC OVFLW).
	KindOverflow
	// KindClosed: the Conn (or its CAN node) is closed.
	KindClosed
	// KindInvalid: a bad argument or configuration (empty message,
	// message too long, invalid options).
	KindInvalid
	// KindBus: the CAN node refused a frame (bus-off, I/O error).
	KindBus
)

var kindNames = [...]string{"", "timeout", "protocol error", "overflow", "closed", "invalid argument", "bus error"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Error is the error type of this package. Its text starts with "isotp: "
// and names what failed and where (channel identifiers, frame counts).
type Error struct {
	Kind Kind
	// Timer names the ISO 15765-2 timer that expired ("N_As", "N_Ar",
	// "N_Bs", "N_Cr") for KindTimeout; "" otherwise.
	Timer string
	// Msg describes the failure (without the "isotp: " prefix).
	Msg string
	// Err is the underlying error, if any (e.g. from the CAN node).
	Err error
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Err != nil {
		return "isotp: " + msg + ": " + e.Err.Error()
	}
	return "isotp: " + msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrTimeout) (and the other sentinels) match
// every Error of that kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Msg == "" && t.Err == nil && t.Timer == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is: each matches every Error of its kind.
var (
	ErrTimeout  = &Error{Kind: KindTimeout}
	ErrProtocol = &Error{Kind: KindProtocol}
	ErrOverflow = &Error{Kind: KindOverflow}
	ErrClosed   = &Error{Kind: KindClosed}
	ErrInvalid  = &Error{Kind: KindInvalid}
	ErrBus      = &Error{Kind: KindBus}
)

// KindOf returns the Kind of the first Error in err's chain, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}
