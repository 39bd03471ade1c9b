package uds

import (
	"encoding/binary"
)

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
