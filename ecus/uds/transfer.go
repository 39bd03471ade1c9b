package uds

import (
	"errors"
	"io"
)

func (s *Server) fileTransfer(req []byte) ([]byte, error) {
	r, nr := parseFileRequest(req, s.cfg.MaxPath)
	if nr != nil {
		return nil, nr
	}
	if s.xfer != nil {
		return nil, Refuse(ConditionsNotCorrect, "a transfer of %q is active", s.xfer.req.Path)
	}
	resp := FileTransferResponse{Mode: r.Mode, MaxBlockLength: uint64(s.cfg.MaxBlockLength)}
	switch r.Mode {
	case DeleteFile:
		if err := s.call(RequestFileTransfer, func() error { return s.h.DeleteFile(r.Path) }); err != nil {
			return nil, asNRC(err, UploadDownloadNotAccepted)
		}
		return resp.encode(), nil
	case ReadDir:
		return nil, Refuse(RequestOutOfRange, "ReadDir is not supported")
	case ReadFile:
		var src FileSource
		err := s.call(RequestFileTransfer, func() (err error) { src, err = s.h.StartUpload(r); return })
		if err != nil {
			return nil, asNRC(err, UploadDownloadNotAccepted)
		}
		size := src.Size()
		if size < 0 {
			return nil, Refuse(GeneralReject, "file of negative size")
		}
		resp.Size, resp.CompressedSize = uint64(size), uint64(size)
		s.xfer = &transfer{req: r, src: src, size: uint64(size), next: 1}
		return resp.encode(), nil
	}
	if r.Size > s.cfg.MaxFileSize && s.cfg.enforces(TransferSize) {
		s.hit(TransferSize, "%s announces %d bytes; the limit is %d", r.Path, r.Size, s.cfg.MaxFileSize)
		return nil, Refuse(RequestOutOfRange, "file of %d bytes; at most %d", r.Size, s.cfg.MaxFileSize)
	}
	var sink FileSink
	err := s.call(RequestFileTransfer, func() (err error) { sink, err = s.h.StartDownload(r); return })
	if err != nil {
		return nil, asNRC(err, UploadDownloadNotAccepted)
	}
	x := &transfer{req: r, sink: sink, size: r.Size, next: 1}
	if r.Mode == ResumeFile {
		x.done = sink.Offset()
		if x.done > r.Size {
			sink.Abort(false)
			return nil, Refuse(UploadDownloadNotAccepted, "the ECU holds %d bytes of a %d-byte file", x.done, r.Size)
		}
		resp.Position = x.done
	}
	s.xfer = x
	return resp.encode(), nil
}

func (s *Server) transferData(req []byte) ([]byte, error) {
	if len(req) < 2 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "no blockSequenceCounter")
	}
	x := s.xfer
	if x == nil {
		return nil, Refuse(RequestSequenceError, "no file transfer is active (RequestFileTransfer first)")
	}
	if len(req) > s.cfg.MaxBlockLength {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "block of %d bytes; maxNumberOfBlockLength is %d", len(req), s.cfg.MaxBlockLength)
	}
	bsc, data := req[1], req[2:]
	if x.src != nil {
		return s.upload(x, bsc, len(data))
	}
	if x.haveLast && bsc == x.last {
		// ISO 14229-1: a repeated block is acknowledged again, not written
		return []byte{0x76, bsc}, nil
	}
	if bsc != x.next {
		return nil, Refuse(WrongBlockSequenceCounter, "block %d, expected %d", bsc, x.next)
	}
	if len(data) == 0 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "a download block without data")
	}
	if uint64(len(data)) > x.size-x.done && s.cfg.enforces(TransferSize) {
		s.hit(TransferSize, "%s: block %d brings the file past its announced %d bytes", x.req.Path, bsc, x.size)
		s.endTransfer(false)
		return nil, Refuse(TransferDataSuspended, "more data than the announced %d bytes", x.size)
	}
	buf := append([]byte(nil), data...)
	if err := s.call(TransferData, func() error { return x.sink.Write(buf) }); err != nil {
		s.endTransfer(false)
		return nil, asNRC(err, GeneralProgrammingFailure)
	}
	x.done += uint64(len(data))
	x.last, x.haveLast, x.next = bsc, true, bsc+1
	return []byte{0x76, bsc}, nil
}

// upload answers a TransferData of a ReadFile with the next block.
func (s *Server) upload(x *transfer, bsc byte, extra int) ([]byte, error) {
	if extra != 0 {
		return nil, Refuse(IncorrectMessageLengthOrInvalidFormat, "an upload request carries no data")
	}
	if x.haveLast && bsc == x.last {
		return append([]byte{0x76, bsc}, x.lastData...), nil
	}
	if bsc != x.next {
		return nil, Refuse(WrongBlockSequenceCounter, "block %d, expected %d", bsc, x.next)
	}
	if x.done >= x.size {
		return nil, Refuse(RequestSequenceError, "the whole file was transferred")
	}
	n := min(uint64(s.cfg.MaxBlockLength-2), x.size-x.done)
	buf := make([]byte, n)
	err := s.call(TransferData, func() error {
		got, err := x.src.ReadAt(buf, int64(x.done))
		if got == len(buf) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
	if err != nil {
		s.endTransfer(false)
		return nil, asNRC(err, GeneralProgrammingFailure)
	}
	x.done += n
	x.last, x.haveLast, x.next, x.lastData = bsc, true, bsc+1, buf
	return append([]byte{0x76, bsc}, buf...), nil
}

func (s *Server) transferExit(req []byte) ([]byte, error) {
	x := s.xfer
	if x == nil {
		return nil, Refuse(RequestSequenceError, "no file transfer is active")
	}
	if x.done < x.size {
		return nil, Refuse(RequestSequenceError, "%d of %d bytes transferred", x.done, x.size)
	}
	if x.sink != nil {
		if err := s.call(RequestTransferExit, x.sink.Commit); err != nil {
			s.endTransfer(false)
			return nil, asNRC(err, GeneralProgrammingFailure)
		}
	}
	s.xfer = nil
	return []byte{0x77}, nil
}
