package uds

import (
	"encoding/binary"
	"time"
)

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
