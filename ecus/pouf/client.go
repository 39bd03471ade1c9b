package pouf

import (
	"errors"
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Client defaults.
const (
	DefaultBlockRetries = 3 // resends of one TransferData block after a timeout
	DefaultResumes      = 8 // ResumeFile attempts of one PutFile
	// DefaultResumeDelay is the pause before each ResumeFile attempt: with
	// DefaultResumes, a transfer survives a bus outage of about 10 s.
	DefaultResumeDelay = time.Second
)

// Identity is what a Secondary says about itself (docs/pouf.md, "Identity").
type Identity struct {
	ID            string // Uptane ECU identifier (0xF18C)
	HardwareID    string // hardware identifier (0xF191)
	VIN           string // 0xF190
	Verification  string // "full" or "partial"
	Key           *metadata.Key
	EncryptionKey []byte // nil when the ECU has none
	MaxImage      uint32
	MaxMetadata   uint32
	// Report is the form of the ECU's version reports: "" ours
	// (manifest.SignedReport), "aktualizr" aktualizr's signed ECU manifest
	// (an aktualizr-secondary reached over aktualizr-ip).
	Report string `json:",omitempty"`
}

// Progress reports bytes transferred.
type Progress func(done, total int64)

// RoutineError is a routine that reported failure. It unwraps to a
// *check.Error when the ECU named the check, so check.As works on it.
type RoutineError struct {
	ECU     string
	Routine uint16
	Check   check.ID
	Attack  check.Attack
	Detail  string
}

func (e *RoutineError) Error() string {
	s := "pouf: " + e.ECU + ": " + RoutineName(e.Routine) + " failed"
	if e.Check != 0 {
		s += ": " + e.Check.String() + " (" + string(e.Attack) + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the check error the ECU reported, or nil.
func (e *RoutineError) Unwrap() error {
	if e.Check == 0 {
		return nil
	}
	return &check.Error{Check: e.Check, Attack: e.Attack, ECU: e.ECU, Detail: e.Detail}
}

// Client is the Primary's side of the protocol with one Secondary. Each
// method enters the session it needs (a non-default one for DID writes and
// reports, programming for files and the verify and install routines) and
// enters it again when the ECU fell back to the default session (S3
// timeout, reset). Identity reads work in any session.
type Client struct {
	u   *uds.Client
	ecu string
	// BlockRetries, Resumes and ResumeDelay bound PutFile's recovery.
	BlockRetries, Resumes int
	ResumeDelay           time.Duration
	// Chunk and Pace make PutFile trickle: blocks of at most Chunk data
	// bytes, Pace apart (a slow-retrieval attacker on the bus; the
	// Primary leaves both zero and sends full blocks back to back).
	Chunk   int
	Pace    time.Duration
	session uds.Session // believed active; 0: unknown
	// cut holds the files whose transfer the ECU refused while it was open
	// (NRC 0x22 conditionsNotCorrect: its programming preconditions stopped
	// holding), by path, with their size: the next PutFile of that path and
	// size resumes (ResumeFile) from what the ECU kept.
	cut map[string]uint64
	// open is the path of the transfer the ECU accepted and that has not
	// exited yet ("" when none).
	open string
}

// NewClient returns a client for the ECU named ecu (used in errors).
func NewClient(u *uds.Client, ecu string) *Client {
	return &Client{u: u, ecu: ecu, BlockRetries: DefaultBlockRetries, Resumes: DefaultResumes, ResumeDelay: DefaultResumeDelay}
}

// UDS returns the underlying UDS client.
func (c *Client) UDS() *uds.Client { return c.u }

func (c *Client) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *RoutineError
	if errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("pouf: %s: %s: %w", c.ecu, op, err)
}

// enter makes s the active session (programming through extended).
func (c *Client) enter(s uds.Session) error {
	if c.session == s {
		return nil
	}
	if s == uds.ProgrammingSession && c.session != uds.ExtendedSession {
		if err := c.enter(uds.ExtendedSession); err != nil {
			return err
		}
	}
	c.session = 0
	if _, _, err := c.u.StartSession(s); err != nil {
		return err
	}
	c.session = s
	return nil
}

// in runs op in session s, entering it again once if the ECU left it.
func (c *Client) in(s uds.Session, op func() error) error {
	if err := c.enter(s); err != nil {
		return err
	}
	err := op()
	if uds.IsNRC(err, uds.ServiceNotSupportedInActiveSession) {
		c.session = 0
		if err = c.enter(s); err == nil {
			err = op()
		}
	}
	return err
}

// ReadIdentity reads the identity DIDs ({#build-time-prerequisite-requirements-for-ecus}).
func (c *Client) ReadIdentity() (Identity, error) {
	var id Identity
	read := func(did uint16) ([]byte, error) { return c.u.ReadDID(did) }
	steps := []struct {
		did   uint16
		parse func([]byte) error
	}{
		{DIDECUSerial, func(b []byte) (err error) { id.ID, err = ParseIdentifier(b, MaxIdentifier); return }},
		{DIDHardwareNumber, func(b []byte) (err error) { id.HardwareID, err = ParseIdentifier(b, MaxIdentifier); return }},
		{DIDVIN, func(b []byte) (err error) { id.VIN, err = ParseIdentifier(b, MaxVIN); return }},
		{DIDVerification, func(b []byte) (err error) { id.Verification, err = ParseVerification(b); return }},
		{DIDSigningKey, func(b []byte) (err error) { id.Key, err = ParseKey(b); return }},
		{DIDMaxImage, func(b []byte) (err error) { id.MaxImage, err = ParseSize(b); return }},
		{DIDMaxMetadata, func(b []byte) (err error) { id.MaxMetadata, err = ParseSize(b); return }},
	}
	for _, s := range steps {
		b, err := read(s.did)
		if err == nil {
			err = s.parse(b)
		}
		if err != nil {
			return Identity{}, c.wrap(fmt.Sprintf("read identity DID 0x%04X", s.did), err)
		}
	}
	b, err := read(DIDEncryptionKey)
	switch {
	case uds.IsNRC(err, uds.RequestOutOfRange): // no encryption key
	case err != nil:
		return Identity{}, c.wrap("read encryption key", err)
	case len(b) != EncryptionKeySize:
		return Identity{}, c.wrap("read encryption key", fmt.Errorf("%d bytes, want %d", len(b), EncryptionKeySize))
	default:
		id.EncryptionKey = b
	}
	return id, nil
}

// WriteNonce writes the nonce of this cycle ({#construct_manifest_primary}).
func (c *Client) WriteNonce(n []byte) error {
	if err := ValidNonce(n); err != nil {
		return err
	}
	return c.wrap("write nonce", c.in(c.nonDefault(), func() error { return c.u.WriteDID(DIDNonce, n) }))
}

// ReadTimeNonce reads the nonce the ECU made for its next time attestation
// (docs/pouf.md, "Time").
func (c *Client) ReadTimeNonce() ([]byte, error) {
	b, err := c.u.ReadDID(DIDTimeNonce)
	if err == nil {
		err = ValidNonce(b)
	}
	if err != nil {
		return nil, c.wrap("read time nonce", err)
	}
	return b, nil
}

// WriteTime sends the time server's attestation ({#send_time_primary}).
func (c *Client) WriteTime(attestation []byte) error {
	return c.wrap("write time", c.in(c.nonDefault(), func() error { return c.u.WriteDID(DIDTime, attestation) }))
}

// WriteRawTime writes an unauthenticated 8-byte time to DIDTime, as a node
// that holds no time server key can (an attacker; a conformant ECU refuses
// it with verify_time.attestation).
func (c *Client) WriteRawTime(t time.Time) error {
	return c.wrap("write time", c.in(c.nonDefault(), func() error { return c.u.WriteDID(DIDTime, EncodeTime(t)) }))
}

// PutMetadata sends one metadata file of repo ({#send_metadata_primary}).
func (c *Client) PutMetadata(repo, name string, data []byte, p Progress) error {
	path, err := MetadataPath(repo, name)
	if err != nil {
		return err
	}
	return c.PutFile(path, data, p)
}

// PutImage sends the image of this cycle ({#send_images_primary}).
func (c *Client) PutImage(target string, data []byte, p Progress) error {
	path, err := ImagePath(target)
	if err != nil {
		return err
	}
	return c.PutFile(path, data, p)
}

// PutFile writes a file with RequestFileTransfer (ReplaceFile),
// TransferData and RequestTransferExit. A block whose answer does not come
// is sent again with the same counter (the ECU acknowledges a repeat
// without writing it twice); a transfer the ECU lost (session timeout,
// reset) continues with ResumeFile from the position the ECU reports.
func (c *Client) PutFile(path string, data []byte, p Progress) error {
	if _, err := ParsePath(path); err != nil {
		return err
	}
	mode := uds.ReplaceFile
	if size, ok := c.cut[path]; ok && size == uint64(len(data)) {
		mode = uds.ResumeFile // a transfer cut by the ECU's preconditions
	}
	for attempt := 0; ; attempt++ {
		c.open = ""
		err := c.in(uds.ProgrammingSession, func() error { return c.transfer(mode, path, data, p) })
		if err == nil {
			delete(c.cut, path)
			return nil
		}
		if uds.IsNRC(err, uds.ConditionsNotCorrect) && c.open == path {
			// the ECU keeps what it received (docs/pouf.md, "Programming
			// preconditions"); the next PutFile of the file resumes
			if c.cut == nil {
				c.cut = map[string]uint64{}
			}
			c.cut[path] = uint64(len(data))
		}
		if attempt >= c.Resumes || !resumable(err) {
			return c.wrap("put "+path, err)
		}
		// a new session ends whatever transfer the ECU still has open
		mode, c.session = uds.ResumeFile, 0
		c.u.Clock().Sleep(c.ResumeDelay)
	}
}

// resumable reports whether a transfer error is an interruption, not a
// refusal.
func resumable(err error) bool {
	var te *uds.TimeoutError
	return errors.As(err, &te) || uds.IsNRC(err, uds.RequestSequenceError) ||
		uds.IsNRC(err, uds.ServiceNotSupportedInActiveSession) || uds.IsNRC(err, uds.BusyRepeatRequest)
}

func (c *Client) transfer(mode uds.FileMode, path string, data []byte, p Progress) error {
	size := uint64(len(data))
	resp, err := c.u.FileTransfer(uds.FileRequest{Mode: mode, Path: path, Size: size, CompressedSize: size})
	if err != nil {
		return err
	}
	c.open = path
	if resp.Position > size {
		return fmt.Errorf("the ECU resumes at %d of %d bytes", resp.Position, size)
	}
	block := int(min(resp.MaxBlockLength, uint64(BlockLength)) - 2)
	if c.Chunk > 0 {
		block = min(block, c.Chunk)
	}
	pos := int(resp.Position)
	for bsc := byte(1); pos < len(data); bsc++ {
		if c.Pace > 0 && pos > int(resp.Position) {
			c.u.Clock().Sleep(c.Pace)
		}
		chunk := data[pos:min(pos+block, len(data))]
		for try := 0; ; try++ {
			_, err = c.u.TransferData(bsc, chunk)
			var te *uds.TimeoutError
			if err == nil || !errors.As(err, &te) || try >= c.BlockRetries {
				break
			}
		}
		if err != nil {
			return err
		}
		pos += len(chunk)
		if p != nil {
			p(int64(pos), int64(len(data)))
		}
	}
	if err := c.u.TransferExit(); err != nil {
		return err
	}
	c.open = ""
	return nil
}

// UnmetConditions reads which of the ECU's programming preconditions do not
// hold now (DIDPreconditions, in any session): "" when all hold. An ECU
// that declares none answers NRC 0x31.
func (c *Client) UnmetConditions() (string, error) {
	b, err := c.u.ReadDID(DIDPreconditions)
	if err != nil {
		return "", c.wrap("read preconditions", err)
	}
	return string(b), nil
}

// nonDefault is the active session when it is not the default one, else
// the extended session: where DID writes and reports need no switch.
func (c *Client) nonDefault() uds.Session {
	if c.session == uds.ProgrammingSession {
		return c.session
	}
	return uds.ExtendedSession
}

// routine starts a routine in session s and decodes its result; a failed
// result is a *RoutineError.
func (c *Client) routine(id uint16, s uds.Session) (Result, error) {
	var st []byte
	err := c.in(s, func() (err error) {
		st, err = c.u.Routine(uds.StartRoutine, id, nil)
		return
	})
	if err != nil {
		return Result{}, c.wrap(RoutineName(id), err)
	}
	r, err := ParseResult(st)
	if err != nil {
		return Result{}, c.wrap(RoutineName(id), err)
	}
	if r.Status == Failed {
		return r, &RoutineError{ECU: c.ecu, Routine: id, Check: r.Check, Attack: r.Attack, Detail: r.Detail}
	}
	return r, nil
}

// VerifyMetadata runs full or partial verification on the ECU
// ({#verify_metadata}); it reports whether there is a new image for it.
func (c *Client) VerifyMetadata() (newImage bool, err error) {
	r, err := c.routine(RoutineVerifyMetadata, uds.ProgrammingSession)
	if err != nil {
		return false, err
	}
	if len(r.Data) != 1 || r.Data[0] > 1 {
		return false, c.wrap(RoutineName(RoutineVerifyMetadata), fmt.Errorf("result data % X, want 00 or 01", r.Data))
	}
	return r.Data[0] == 1, nil
}

// VerifyImage verifies the received image ({#verify_image}).
func (c *Client) VerifyImage() error {
	_, err := c.routine(RoutineVerifyImage, uds.ProgrammingSession)
	return err
}

// Install installs the verified image ({#install_image}); the ECU answers
// 0x78 response-pending while it writes.
func (c *Client) Install() error {
	_, err := c.routine(RoutineInstall, uds.ProgrammingSession)
	return err
}

// Abort makes the ECU forget what it received this cycle.
func (c *Client) Abort() error { _, err := c.routine(RoutineAbort, c.nonDefault()); return err }

// ReadVersionReport has the ECU sign a new version report with the nonce
// written last and reads it ({#create_version_report}).
func (c *Client) ReadVersionReport() ([]byte, error) {
	if _, err := c.routine(RoutineVersionReport, c.nonDefault()); err != nil {
		return nil, err
	}
	b, err := c.u.ReadDID(DIDVersionReport)
	if err != nil {
		return nil, c.wrap("read version report", err)
	}
	if len(b) == 0 || len(b) > MaxVersionReport {
		return nil, c.wrap("read version report", fmt.Errorf("%d bytes, want 1..%d", len(b), MaxVersionReport))
	}
	return b, nil
}

// Reset reboots the ECU into its active image (ECUReset hardReset).
func (c *Client) Reset() error {
	err := c.u.Reset(uds.HardReset)
	c.session = uds.DefaultSession
	return c.wrap("reset", err)
}
