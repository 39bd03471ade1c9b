package uds

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/clock"
)

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
	// token bucket (RateBurst > 0): credit in time, one request costs
	// RateWindow/RateLimit
	credit  time.Duration
	tokLast time.Time

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
	if s.cfg.Preconditions != nil && s.cfg.guarded(req) {
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
// entering the programming session, a file transfer's request, or starting
// one of GuardedRoutines.
func (c *ServerConfig) guarded(req []byte) bool {
	switch Service(req[0]) {
	case RoutineControl:
		return len(req) >= 4 && req[1]&^SuppressPosRsp == byte(StartRoutine) &&
			slices.Contains(c.GuardedRoutines, binary.BigEndian.Uint16(req[2:4]))
	case DiagnosticSessionControl:
		return len(req) >= 2 && Session(req[1]&^SuppressPosRsp) == ProgrammingSession
	case RequestFileTransfer, TransferData, RequestTransferExit:
		return true
	}
	return false
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

// asNRC keeps a handler's NRC and turns any other error into code.
func asNRC(err error, code NRC) error {
	if _, ok := NRCOf(err); ok {
		return err
	}
	return Refuse(code, "%v", err)
}

// errSent: the response is already out.
var errSent = errors.New("uds: response already sent")
