package uds

import (
	"fmt"
	"slices"
	"time"
)

// Server defaults (docs/pouf.md, "Timing and limits").
const (
	DefaultP2             = 50 * time.Millisecond
	DefaultP2Star         = 5000 * time.Millisecond
	DefaultS3             = 5000 * time.Millisecond
	DefaultMaxBlockLength = 4095 // one classic ISO-TP message
	DefaultMaxResponse    = 4095
	DefaultMaxRequest     = 4095
	DefaultMaxFileSize    = 64 << 20
	DefaultMaxPath        = 512
	DefaultMaxDIDsPerRead = 8
	DefaultRateLimit      = 200
	DefaultRateWindow     = time.Second
)

// Limit is a bound the server enforces against a misbehaving client. The
// server knows nothing of what an ECU makes of it: an Uptane Secondary
// reports a hit as its check (pouf.rate_limit, pouf.transfer_size).
type Limit uint8

// The server's limits.
const (
	// RateLimit: more requests than RateLimit per RateWindow are answered
	// busyRepeatRequest, not processed.
	RateLimit Limit = iota + 1
	// TransferSize: a download never exceeds MaxFileSize nor its announced
	// size.
	TransferSize
)

func (l Limit) String() string {
	switch l {
	case RateLimit:
		return "rate limit"
	case TransferSize:
		return "transfer size"
	}
	return fmt.Sprintf("limit(%d)", uint8(l))
}

// LimitHit is what the server tells ServerConfig.OnLimit when a request hit
// one of its limits.
type LimitHit struct {
	Limit  Limit
	Server string // ServerConfig.Name
	Detail string // what was asked, and the limit, in words
}

// ServerConfig configures a Server; zero fields take the defaults.
type ServerConfig struct {
	// Name names the ECU in limit hits and actor names.
	Name string
	// P2 and P2Star are the server's response times announced in the
	// DiagnosticSessionControl response (P2 in ms, P2* in units of 10 ms).
	P2, P2Star time.Duration
	// S3 is how long a non-default session lasts without a request.
	S3 time.Duration
	// PendingAfter is how long a handler may work before the first 0x78
	// response-pending (default P2/2); PendingEvery is the interval of the
	// following ones (default P2*/2).
	PendingAfter, PendingEvery time.Duration
	// MaxBlockLength is the maxNumberOfBlockLength announced for file
	// transfers: the longest TransferData message, SID and counter included.
	MaxBlockLength int
	// MaxRequest bounds any request but TransferData (default 4095);
	// MaxResponse bounds a response (longer ones are responseTooLong).
	MaxRequest, MaxResponse int
	// MaxFileSize bounds the announced size of a download (TransferSize).
	MaxFileSize uint64
	// MaxPath bounds a file path; MaxDIDsPerRead the identifiers of one read.
	MaxPath, MaxDIDsPerRead int
	// RateLimit requests per RateWindow are processed; beyond that the
	// server answers busyRepeatRequest (RateLimit).
	RateLimit  int
	RateWindow time.Duration
	// RateBurst, when > 0, makes the limit a token bucket instead of a
	// fixed window: RateBurst requests may come at once, RateLimit per
	// RateWindow on average, so the requests the server processes under a
	// flood are spread evenly instead of coming in one burst per window.
	RateBurst int
	// ServiceTime is the processor time the ECU spends on each request it
	// processes (dispatch, handler, answer): a model of the diagnostic task
	// of a small ECU, on the server's clock. A request answered busy
	// (RateLimit) costs none. Zero: instant.
	ServiceTime time.Duration
	// Preconditions, when set, are the ECU's programming preconditions
	// (vehicle speed 0, ignition on, ...): while it returns an error, the
	// server refuses the programming session and every request of a file
	// transfer (RequestFileTransfer, TransferData, RequestTransferExit) with
	// NRC 0x22 conditionsNotCorrect, and a transfer in progress is aborted
	// (resumable: the inactive slot's partial image is kept for the
	// resume, the active one is untouched).
	Preconditions func() error
	// GuardedRoutines are the routines whose start the preconditions also
	// guard (those that write memory: an ECU's install).
	GuardedRoutines []uint16
	// Lifted are limits the server does not enforce (a control profile's
	// ECU).
	Lifted []Limit
	// OnLimit, when set, is told of every request that hits a limit, each
	// request a flood has answered busy too: it runs at the flood's rate
	// (hundreds a second), so it must not block and should cost nothing
	// when it has nothing new to keep. How often a hit is worth keeping is
	// the listener's business (an Uptane Secondary lists a check once per
	// version report's nonce): a server that told a flood once per window
	// would stay silent after a new nonce until its window ended, and a
	// flood that ends within it would go unreported in that cycle.
	OnLimit func(LimitHit)
}

// enforces reports whether the server enforces limit l.
func (c *ServerConfig) enforces(l Limit) bool { return !slices.Contains(c.Lifted, l) }

func (c *ServerConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.P2, DefaultP2)
	def(&c.P2Star, DefaultP2Star)
	def(&c.S3, DefaultS3)
	def(&c.PendingAfter, c.P2/2)
	def(&c.PendingEvery, c.P2Star/2)
	def(&c.RateWindow, DefaultRateWindow)
	defInt(&c.MaxBlockLength, DefaultMaxBlockLength)
	c.MaxBlockLength = max(c.MaxBlockLength, 3)
	defInt(&c.MaxResponse, DefaultMaxResponse)
	defInt(&c.MaxRequest, DefaultMaxRequest)
	defInt(&c.MaxPath, DefaultMaxPath)
	c.MaxPath = min(c.MaxPath, 0xFFFF)
	defInt(&c.MaxDIDsPerRead, DefaultMaxDIDsPerRead)
	defInt(&c.RateLimit, DefaultRateLimit)
	if c.MaxFileSize == 0 {
		c.MaxFileSize = DefaultMaxFileSize
	}
}

func (s *Server) hit(l Limit, format string, args ...any) {
	if s.cfg.OnLimit != nil {
		s.cfg.OnLimit(LimitHit{Limit: l, Server: s.cfg.Name, Detail: fmt.Sprintf(format, args...)})
	}
}

// flooded counts the request and reports whether it is over the rate limit.
func (s *Server) flooded() bool {
	if !s.cfg.enforces(RateLimit) {
		return false
	}
	now := s.clk.Now()
	if s.cfg.RateBurst > 0 {
		return s.bucketEmpty(now)
	}
	if s.winStart.IsZero() || now.Sub(s.winStart) >= s.cfg.RateWindow || now.Before(s.winStart) {
		s.winStart, s.winCount = now, 0
	}
	s.winCount++
	if s.winCount <= s.cfg.RateLimit {
		return false
	}
	s.hit(RateLimit, "more than %d requests in %s; answering busyRepeatRequest", s.cfg.RateLimit, s.cfg.RateWindow)
	return true
}

// bucketEmpty takes one token from the bucket and reports whether there
// was none.
func (s *Server) bucketEmpty(now time.Time) bool {
	cost := s.cfg.RateWindow / time.Duration(s.cfg.RateLimit)
	full := cost * time.Duration(s.cfg.RateBurst)
	if s.tokLast.IsZero() || now.Before(s.tokLast) {
		s.credit = full
	} else {
		s.credit = min(full, s.credit+now.Sub(s.tokLast))
	}
	s.tokLast = now
	if s.credit >= cost {
		s.credit -= cost
		return false
	}
	s.hit(RateLimit, "more than %d requests in %s (burst %d); answering busyRepeatRequest", s.cfg.RateLimit, s.cfg.RateWindow, s.cfg.RateBurst)
	return true
}
