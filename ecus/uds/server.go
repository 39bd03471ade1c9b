package uds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/clock"
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
	// Lifted are limits the server does not enforce (a control profile's
	// ECU).
	Lifted []Limit
	// OnLimit, when set, is told when a request hits a limit (once per
	// window for the rate limit). It must not block.
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

// Server answers UDS requests from one Transport, one at a time.
type Server struct {
	t   Transport
	clk clock.Clock
	h   Handler
	cfg ServerConfig

	session  Session
	lastReq  time.Time
	started  map[uint16]bool
	xfer     *transfer
	winStart time.Time
	winCount int
	winTold  bool
	// token bucket (RateBurst > 0): credit in time, one request costs
	// RateWindow/RateLimit
	credit  time.Duration
	tokLast time.Time
	toldAt  time.Time

	jobs    *clock.Queue[func() error]
	results *clock.Queue[error]
	pending bool // a 0x78 went out for the current request
}

// transfer is the file transfer between RequestFileTransfer and
// RequestTransferExit.
type transfer struct {
	req      FileRequest
	sink     FileSink
	src      FileSource
	size     uint64 // bytes the transfer moves in all
	done     uint64 // bytes moved (including a resume offset)
	next     byte   // expected block sequence counter
	last     byte   // counter of the last accepted block
	haveLast bool
	lastData []byte // upload: the data of the last block, for a repeat
}

// NewServer returns a server for h on t; Serve runs it.
func NewServer(t Transport, clk clock.Clock, h Handler, cfg ServerConfig) *Server {
	cfg.defaults()
	return &Server{t: t, clk: clk, h: h, cfg: cfg, session: DefaultSession, started: map[uint16]bool{}}
}

// Session returns the active diagnostic session.
func (s *Server) Session() Session { return s.session }

// Serve answers requests until the transport is closed. It must run on an
// actor of the server's clock; it starts one more (the handler worker).
func (s *Server) Serve() error {
	s.jobs = clock.NewQueue[func() error](s.clk, 1)
	s.results = clock.NewQueue[error](s.clk, 1)
	defer s.jobs.Close()
	name := "uds-server"
	if s.cfg.Name != "" {
		name += "-" + s.cfg.Name
	}
	s.clk.Go(name+"-worker", s.worker)
	failures := 0
	for {
		req, err := s.t.Recv(clock.Forever)
		if err != nil {
			if isClosed(err) {
				s.endTransfer(true)
				return nil
			}
			// a reception error (a broken ISO-TP message): nothing to answer
			if failures++; failures > 1000 {
				return fmt.Errorf("uds server: transport keeps failing: %w", err)
			}
			continue
		}
		failures = 0
		if err := s.handle(req); err != nil {
			if isClosed(err) {
				s.endTransfer(true)
				return nil
			}
		}
	}
}

func (s *Server) worker() {
	for {
		f, err := s.jobs.Pop(clock.Forever)
		if err != nil {
			return
		}
		if err := s.results.Push(runSafe(f), clock.Forever); err != nil {
			return
		}
	}
}

func runSafe(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Refuse(GeneralReject, "handler panicked: %v", r)
		}
	}()
	return f()
}

// call runs a handler method on the worker and answers 0x78
// response-pending while it works.
func (s *Server) call(sid Service, f func() error) error {
	if err := s.jobs.Push(f, clock.Forever); err != nil {
		return Refuse(GeneralReject, "server stopped")
	}
	wait := s.cfg.PendingAfter
	for {
		err, perr := s.results.Pop(wait)
		if perr == nil {
			return err
		}
		if !isTimeout(perr) {
			return Refuse(GeneralReject, "server stopped")
		}
		if err := s.t.Send([]byte{NegativeResponseSID, byte(sid), byte(ResponsePending)}); err != nil && isClosed(err) {
			return err
		}
		s.pending = true
		wait = s.cfg.PendingEvery
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
		s.winStart, s.winCount, s.winTold = now, 0, false
	}
	s.winCount++
	if s.winCount <= s.cfg.RateLimit {
		return false
	}
	if !s.winTold {
		s.winTold = true
		s.hit(RateLimit, "more than %d requests in %s; answering busyRepeatRequest", s.cfg.RateLimit, s.cfg.RateWindow)
	}
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
	if s.toldAt.IsZero() || now.Sub(s.toldAt) >= s.cfg.RateWindow || now.Before(s.toldAt) {
		s.toldAt = now
		s.hit(RateLimit, "more than %d requests in %s (burst %d); answering busyRepeatRequest", s.cfg.RateLimit, s.cfg.RateWindow, s.cfg.RateBurst)
	}
	return true
}

// handle answers one request.
func (s *Server) handle(req []byte) error {
	if len(req) == 0 {
		return nil // no SID to answer to
	}
	sid := Service(req[0])
	if s.flooded() {
		return s.t.Send([]byte{NegativeResponseSID, byte(sid), byte(BusyRepeatRequest)})
	}
	now := s.clk.Now()
	if s.session != DefaultSession && !s.lastReq.IsZero() && now.Sub(s.lastReq) > s.cfg.S3 {
		s.changeSession(DefaultSession) // S3 expired
	}
	s.lastReq = now
	s.pending = false
	if s.cfg.ServiceTime > 0 {
		s.clk.Sleep(s.cfg.ServiceTime) // the ECU's processor at work
	}
	if s.cfg.Preconditions != nil && guarded(req) {
		if err := s.cfg.Preconditions(); err != nil {
			s.endTransfer(true)
			return s.t.Send([]byte{NegativeResponseSID, byte(sid), byte(ConditionsNotCorrect)})
		}
	}
	resp, err := s.dispatch(req)
	s.lastReq = s.clk.Now() // S3 runs from the end of the answer
	if err == errSent {
		return nil
	}
	if err != nil {
		code := GeneralReject
		var nr *NegativeResponse
		if errors.As(err, &nr) {
			code = nr.Code
		}
		if code == ResponsePending { // only the server itself sends 0x78
			code = GeneralReject
		}
		return s.t.Send([]byte{NegativeResponseSID, byte(sid), byte(code)})
	}
	if len(resp) > s.cfg.MaxResponse {
		return s.t.Send([]byte{NegativeResponseSID, byte(sid), byte(ResponseTooLong)})
	}
	if suppressed(req) && !s.pending {
		return nil // suppressPosRsp; after a 0x78 the final response is due anyway
	}
	return s.t.Send(resp)
}

// guarded reports whether req is one the programming preconditions guard:
// entering the programming session, or a file transfer's request.
func guarded(req []byte) bool {
	switch Service(req[0]) {
	case DiagnosticSessionControl:
		return len(req) >= 2 && Session(req[1]&^SuppressPosRsp) == ProgrammingSession
	case RequestFileTransfer, TransferData, RequestTransferExit:
		return true
	}
	return false
}

type sessions uint8

func in(ss ...Session) sessions {
	var m sessions
	for _, s := range ss {
		m |= 1 << s
	}
	return m
}

var (
	anySession    = in(DefaultSession, ProgrammingSession, ExtendedSession)
	nonDefault    = in(ProgrammingSession, ExtendedSession)
	programmingOn = in(ProgrammingSession)
)

// serviceSessions is where each service is available (docs/pouf.md).
var serviceSessions = map[Service]sessions{
	DiagnosticSessionControl: anySession,
	ECUReset:                 anySession,
	ReadDataByIdentifier:     anySession,
	TesterPresent:            anySession,
	WriteDataByIdentifier:    nonDefault,
	RoutineControl:           nonDefault,
	RequestFileTransfer:      programmingOn,
	TransferData:             programmingOn,
	RequestTransferExit:      programmingOn,
}

// dispatch checks a request in the order of ISO 14229-1's general server
// response behaviour and runs its service.
func (s *Server) dispatch(req []byte) ([]byte, error) {
	sid := Service(req[0])
	allowed, ok := serviceSessions[sid]
	if !ok {
		return nil, Refuse(ServiceNotSupported, "")
	}
	if allowed&(1<<s.session) == 0 {
		return nil, Refuse(ServiceNotSupportedInActiveSession, "%s in %s", sid, s.session)
	}
	if sid.hasSubFunction() && len(req) < 2 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "no sub-function")
	}
	if len(req) > max(s.cfg.MaxRequest, s.cfg.MaxBlockLength) {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "request of %d bytes", len(req))
	}
	switch sid {
	case DiagnosticSessionControl:
		return s.sessionControl(req)
	case ECUReset:
		return s.ecuReset(req)
	case ReadDataByIdentifier:
		return s.readDIDs(req)
	case WriteDataByIdentifier:
		return s.writeDID(req)
	case RoutineControl:
		return s.routine(req)
	case RequestFileTransfer:
		return s.fileTransfer(req)
	case TransferData:
		return s.transferData(req)
	case RequestTransferExit:
		return s.transferExit(req)
	default: // TesterPresent
		return s.testerPresent(req)
	}
}

// suppressed reports whether the request has the suppressPosRsp bit.
func suppressed(req []byte) bool {
	return Service(req[0]).hasSubFunction() && len(req) > 1 && req[1]&SuppressPosRsp != 0
}

func (s *Server) changeSession(to Session) {
	s.endTransfer(true)
	clear(s.started)
	s.session = to
}

// endTransfer aborts an active transfer.
func (s *Server) endTransfer(resumable bool) {
	if s.xfer != nil && s.xfer.sink != nil {
		s.xfer.sink.Abort(resumable)
	}
	s.xfer = nil
}

func (s *Server) sessionControl(req []byte) ([]byte, error) {
	if len(req) != 2 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes, want 2", len(req))
	}
	to := Session(req[1] &^ SuppressPosRsp)
	if to != DefaultSession && to != ProgrammingSession && to != ExtendedSession {
		return nil, Refuse(SubFunctionNotSupported, "session 0x%02X", byte(to))
	}
	if to == ProgrammingSession && s.session == DefaultSession {
		return nil, Refuse(SubFunctionNotSupportedInActiveSession, "the programming session is entered from the extended session")
	}
	if sh, ok := s.h.(SessionHandler); ok {
		from := s.session
		if err := s.call(DiagnosticSessionControl, func() error { return sh.SessionChange(from, to) }); err != nil {
			return nil, asNRC(err, ConditionsNotCorrect)
		}
	}
	s.changeSession(to)
	resp := []byte{0x50, byte(to), 0, 0, 0, 0}
	binary.BigEndian.PutUint16(resp[2:], uint16(min(s.cfg.P2/time.Millisecond, 0xFFFF)))
	binary.BigEndian.PutUint16(resp[4:], uint16(min(s.cfg.P2Star/(10*time.Millisecond), 0xFFFF)))
	return resp, nil
}

// asNRC keeps a handler's NRC and turns any other error into code.
func asNRC(err error, code NRC) error {
	if _, ok := NRCOf(err); ok {
		return err
	}
	return Refuse(code, "%v", err)
}

func (s *Server) ecuReset(req []byte) ([]byte, error) {
	if len(req) != 2 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes, want 2", len(req))
	}
	kind := ResetType(req[1] &^ SuppressPosRsp)
	if kind < HardReset || kind > SoftReset {
		return nil, Refuse(SubFunctionNotSupported, "reset type 0x%02X", byte(kind))
	}
	if !suppressed(req) {
		// a failed send shows on the next Recv; the reset happens anyway
		_ = s.t.Send([]byte{0x51, byte(kind)})
	}
	s.changeSession(DefaultSession)
	s.lastReq = time.Time{}
	s.h.Reset(kind)
	return nil, errSent
}

// errSent: the response is already out.
var errSent = errors.New("uds: response already sent")

func (s *Server) readDIDs(req []byte) ([]byte, error) {
	n := (len(req) - 1) / 2
	if len(req) < 3 || len(req)%2 != 1 || n > s.cfg.MaxDIDsPerRead {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes: want 1..%d identifiers of 2 bytes", len(req), s.cfg.MaxDIDsPerRead)
	}
	resp := []byte{0x62}
	found := 0
	for i := 0; i < n; i++ {
		did := binary.BigEndian.Uint16(req[1+2*i:])
		var data []byte
		err := s.call(ReadDataByIdentifier, func() (err error) { data, err = s.h.ReadDID(did); return })
		if IsNRC(err, RequestOutOfRange) {
			continue // ISO 14229-1: answer the supported ones
		}
		if err != nil {
			return nil, err
		}
		found++
		resp = binary.BigEndian.AppendUint16(resp, did)
		resp = append(resp, data...)
		if len(resp) > s.cfg.MaxResponse {
			return nil, Refuse(ResponseTooLong, "%d bytes", len(resp))
		}
	}
	if found == 0 {
		return nil, Refuse(RequestOutOfRange, "no requested identifier is supported")
	}
	return resp, nil
}

func (s *Server) writeDID(req []byte) ([]byte, error) {
	if len(req) < 4 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes, want an identifier and data", len(req))
	}
	did := binary.BigEndian.Uint16(req[1:])
	data := append([]byte(nil), req[3:]...)
	if err := s.call(WriteDataByIdentifier, func() error { return s.h.WriteDID(did, data) }); err != nil {
		return nil, err
	}
	return []byte{0x6E, req[1], req[2]}, nil
}

func (s *Server) routine(req []byte) ([]byte, error) {
	ctl := RoutineControlType(req[1] &^ SuppressPosRsp)
	if ctl < StartRoutine || ctl > RequestRoutineResults {
		return nil, Refuse(SubFunctionNotSupported, "routineControlType 0x%02X", byte(ctl))
	}
	if len(req) < 4 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes, want a routine identifier", len(req))
	}
	id := binary.BigEndian.Uint16(req[2:])
	if ctl != StartRoutine && !s.started[id] {
		return nil, Refuse(RequestSequenceError, "%s of routine 0x%04X that was not started", ctl, id)
	}
	params := append([]byte(nil), req[4:]...)
	var status []byte
	err := s.call(RoutineControl, func() (err error) { status, err = s.h.Routine(id, ctl, params); return })
	if err != nil {
		return nil, err
	}
	if ctl == StartRoutine {
		s.started[id] = true
	}
	resp := append([]byte{0x71, byte(ctl), req[2], req[3]}, status...)
	if len(resp) > s.cfg.MaxResponse {
		return nil, Refuse(ResponseTooLong, "routine status of %d bytes", len(status))
	}
	return resp, nil
}

func (s *Server) testerPresent(req []byte) ([]byte, error) {
	if len(req) != 2 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes, want 2", len(req))
	}
	if req[1]&^SuppressPosRsp != 0 {
		return nil, Refuse(SubFunctionNotSupported, "sub-function 0x%02X", req[1])
	}
	return []byte{0x7E, 0x00}, nil
}
