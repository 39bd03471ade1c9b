package uds

import (
	"errors"
	"fmt"
	"time"
)

// NegativeResponse is a refusal: on the server, the error a Handler returns
// to choose the NRC (with Refuse); on the client, the error a negative
// response 7F <SID> <NRC> becomes. Detail never goes on the wire.
type NegativeResponse struct {
	Service Service
	Code    NRC
	Detail  string
}

func (e *NegativeResponse) Error() string {
	s := "uds: " + e.Service.String() + ": " + e.Code.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Refuse returns the error a Handler returns to answer with code.
func Refuse(code NRC, format string, args ...any) *NegativeResponse {
	return &NegativeResponse{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// NRCOf returns the code of the first NegativeResponse in err's chain.
func NRCOf(err error) (NRC, bool) {
	var nr *NegativeResponse
	if errors.As(err, &nr) {
		return nr.Code, true
	}
	return 0, false
}

// IsNRC reports whether err is (or wraps) a negative response with code.
func IsNRC(err error, code NRC) bool {
	c, ok := NRCOf(err)
	return ok && c == code
}

// TimeoutError: no response came within P2 (or P2* after a 0x78).
type TimeoutError struct {
	Service Service
	After   time.Duration
	Timer   string // "P2" or "P2*"
	Pending int    // 0x78 responses received before the timeout
}

func (e *TimeoutError) Error() string {
	s := fmt.Sprintf("uds: %s: no response within %s (%s)", e.Service, e.After, e.Timer)
	if e.Pending > 0 {
		s += fmt.Sprintf(" after %d response-pending", e.Pending)
	}
	return s
}

// ProtocolError: a response that does not fit its request.
type ProtocolError struct {
	Service Service
	Detail  string
}

func (e *ProtocolError) Error() string {
	return "uds: " + e.Service.String() + ": malformed response: " + e.Detail
}

func protoErr(s Service, format string, args ...any) *ProtocolError {
	return &ProtocolError{Service: s, Detail: fmt.Sprintf(format, args...)}
}
