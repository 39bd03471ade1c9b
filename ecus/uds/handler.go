package uds

// Handler is the ECU behind a Server. The server checks formats, sessions,
// sequences, sizes and block counters; the handler only sees well-formed
// requests. A method refuses with an error: a *NegativeResponse (Refuse)
// chooses the NRC; any other error becomes generalReject (0x10), or
// uploadDownloadNotAccepted (0x70) from StartDownload/StartUpload/DeleteFile.
// Methods may block on the server's clock: after ServerConfig.PendingAfter
// the server answers 0x78 response-pending until they return.
//
// Embed BaseHandler to implement only part of it.
type Handler interface {
	// ReadDID returns the value of a data identifier; an unknown one is
	// Refuse(RequestOutOfRange, …).
	ReadDID(did uint16) ([]byte, error)
	// WriteDID stores the value of a data identifier.
	WriteDID(did uint16, data []byte) error
	// Routine starts or stops a routine, or returns its results; the
	// returned bytes are the routineStatusRecord of the positive response.
	// Stop and RequestRoutineResults only reach the handler for routines
	// started in the current session.
	Routine(id uint16, ctl RoutineControlType, params []byte) ([]byte, error)
	// StartDownload opens a file the client will write (AddFile,
	// ReplaceFile, ResumeFile). For ResumeFile the sink's Offset is where
	// the client continues.
	StartDownload(req FileRequest) (FileSink, error)
	// StartUpload opens a file the client will read (ReadFile).
	StartUpload(req FileRequest) (FileSource, error)
	// DeleteFile removes a file (DeleteFile).
	DeleteFile(path string) error
	// Reset is called after the positive response to ECUReset was sent.
	Reset(kind ResetType)
}

// SessionHandler is optionally implemented by a Handler that wants to know
// about (or refuse, with an error) a change of diagnostic session.
type SessionHandler interface {
	SessionChange(from, to Session) error
}

// FileRequest is a RequestFileTransfer request.
type FileRequest struct {
	Mode FileMode
	Path string
	// DataFormat is the dataFormatIdentifier: 0x00 (neither compressed nor
	// encrypted) is the only one this package accepts.
	DataFormat byte
	// Size and CompressedSize are fileSizeUnCompressed and
	// fileSizeCompressed (equal for DataFormat 0) of a download.
	Size, CompressedSize uint64
}

// FileSink receives a downloaded file.
type FileSink interface {
	// Offset is how many bytes of the file the ECU already holds: 0 for
	// AddFile and ReplaceFile, the resume position for ResumeFile.
	Offset() uint64
	// Write appends the data of one TransferData block.
	Write(p []byte) error
	// Commit is RequestTransferExit after the announced size arrived: the
	// ECU stores the file atomically.
	Commit() error
	// Abort ends the transfer without Commit: resumable when the transfer
	// was interrupted (session change, reset; the ECU keeps what it has for
	// ResumeFile), not when it was refused (size exceeded, write failed).
	Abort(resumable bool)
}

// FileSource is a file the client reads; bytes.Reader is one.
type FileSource interface {
	ReadAt(p []byte, off int64) (int, error)
	Size() int64
}

// BaseHandler refuses everything with requestOutOfRange; embed it in a
// Handler that implements only some methods.
type BaseHandler struct{}

// ReadDID refuses.
func (BaseHandler) ReadDID(did uint16) ([]byte, error) {
	return nil, Refuse(RequestOutOfRange, "no data identifier 0x%04X", did)
}

// WriteDID refuses.
func (BaseHandler) WriteDID(did uint16, _ []byte) error {
	return Refuse(RequestOutOfRange, "data identifier 0x%04X is not writable", did)
}

// Routine refuses.
func (BaseHandler) Routine(id uint16, _ RoutineControlType, _ []byte) ([]byte, error) {
	return nil, Refuse(RequestOutOfRange, "no routine 0x%04X", id)
}

// StartDownload refuses.
func (BaseHandler) StartDownload(req FileRequest) (FileSink, error) {
	return nil, Refuse(RequestOutOfRange, "no file %q to write", req.Path)
}

// StartUpload refuses.
func (BaseHandler) StartUpload(req FileRequest) (FileSource, error) {
	return nil, Refuse(RequestOutOfRange, "no file %q to read", req.Path)
}

// DeleteFile refuses.
func (BaseHandler) DeleteFile(path string) error {
	return Refuse(RequestOutOfRange, "no file %q to delete", path)
}

// Reset does nothing.
func (BaseHandler) Reset(ResetType) {}
