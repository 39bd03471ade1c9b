package secondary

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Handler serves the in-vehicle protocol (docs/pouf.md) for one Secondary:
// identity and the version report through ReadDataByIdentifier, nonce and
// time through WriteDataByIdentifier, metadata and images through
// RequestFileTransfer/TransferData/RequestTransferExit, verification and
// installation through RoutineControl, and ECUReset reboots the ECU from its
// state directory.
//
// Everything a Handler holds is RAM: partial downloads, the version report
// of the cycle, and (in its ECU) the files received this cycle. A power cut
// — a store.Crash at a crash point of the ECU, the store or the transfer —
// leaves the Handler without power: it answers nothing more (every method
// fails with ErrNoPower) and tells the Node that runs it, which silences the
// UDS server at once (docs/pouf.md, "Power loss").
type Handler struct {
	uds.BaseHandler
	cfg     Config
	vin     string
	mu      sync.Mutex
	ecu     *ECU
	report  []byte
	partial map[string]partial // interrupted downloads by path, for ResumeFile
	bootErr error
	cut     string             // the crash point at which power was lost
	onCut   func(point string) // the Node's power switch
	// conditions are the ECU's programming preconditions (the UDS
	// server's Preconditions), read at DID 0xF1A9; nil: it declares none.
	conditions func() error
}

// NewHandler returns the UDS handler of a booted ECU.
func NewHandler(e *ECU, vin string) *Handler {
	return &Handler{cfg: e.cfg, vin: vin, ecu: e, partial: map[string]partial{}}
}

// SetConditions gives the handler the ECU's programming preconditions (its
// UDS server's Preconditions: nil while they hold, else what does not),
// read at DID 0xF1A9; nil: it declares none.
func (h *Handler) SetConditions(f func() error) { h.conditions = f }

// partial is what arrived of an interrupted download of a file of size
// bytes.
type partial struct {
	size uint64
	data []byte
}

// ErrNoPower is the error of an ECU that lost power at a crash point.
var ErrNoPower = errors.New("the ECU has no power")

// ECU returns the running ECU (a reset replaces it).
func (h *Handler) ECU() *ECU { h.mu.Lock(); defer h.mu.Unlock(); return h.ecu }

// Cut returns the crash point at which the ECU lost power, or "".
func (h *Handler) Cut() string { h.mu.Lock(); defer h.mu.Unlock(); return h.cut }

// crash passes a crash point of the bus path (a place where a power cut can
// land without a durable step).
func (h *Handler) crash(point string) {
	if h.cfg.Crash != nil {
		h.cfg.Crash(point)
	}
}

// powerCut loses the RAM at a cut; it reports whether the ECU had power.
func (h *Handler) powerCut(point string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cut != "" {
		return false
	}
	h.cut = point
	h.ecu, h.report, h.partial = nil, nil, nil
	return true
}

// powered runs f on a powered ECU. A store.Crash panic in f is a power cut:
// the Handler is dead from then on and its Node silences the server before
// f's caller can answer. Other panics go on.
func (h *Handler) powered(f func() error) (err error) {
	if p := h.Cut(); p != "" {
		return fmt.Errorf("secondary %s: %w (cut at %s)", h.cfg.ID, ErrNoPower, p)
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		c, ok := r.(store.Crash)
		if !ok {
			panic(r)
		}
		if h.powerCut(c.Point) && h.onCut != nil {
			h.onCut(c.Point)
		}
		err = fmt.Errorf("secondary %s: %w (cut at %s)", h.cfg.ID, ErrNoPower, c.Point)
	}()
	return f()
}

func refuse(err error) error {
	if ce, ok := check.As(err); ok {
		return uds.Refuse(uds.ConditionsNotCorrect, "%s", ce.Error())
	}
	return uds.Refuse(uds.ConditionsNotCorrect, "%v", err)
}

// ReadDID implements uds.Handler.
func (h *Handler) ReadDID(did uint16) (b []byte, err error) {
	err = h.powered(func() (err error) { b, err = h.readDID(did); return })
	return
}

func (h *Handler) readDID(did uint16) ([]byte, error) {
	e := h.ECU()
	switch did {
	case pouf.DIDECUSerial:
		return []byte(e.ID()), nil
	case pouf.DIDHardwareNumber:
		return []byte(e.HardwareID()), nil
	case pouf.DIDVIN:
		return []byte(h.vin), nil
	case pouf.DIDVerification:
		return pouf.EncodeVerification(e.Verification())
	case pouf.DIDSigningKey:
		return pouf.EncodeKey(e.PublicKey())
	case pouf.DIDEncryptionKey:
		if k := e.EncryptionKey(); k != nil {
			return k, nil
		}
		return nil, uds.Refuse(uds.RequestOutOfRange, "ECU %s has no encryption key", e.ID())
	case pouf.DIDMaxImage:
		return pouf.EncodeSize(uint32(e.cfg.MaxImage)), nil
	case pouf.DIDMaxMetadata:
		return pouf.EncodeSize(MaxMetadataFile), nil
	case pouf.DIDVersionReport:
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.report == nil {
			return nil, uds.Refuse(uds.ConditionsNotCorrect, "no version report created since the last nonce")
		}
		return h.report, nil
	case pouf.DIDTime:
		return pouf.EncodeTime(e.State().LatestTime), nil
	case pouf.DIDTimeNonce:
		return e.TimeNonce(), nil
	case pouf.DIDPreconditions:
		if h.conditions == nil {
			return nil, uds.Refuse(uds.RequestOutOfRange, "ECU %s declares no programming preconditions", e.ID())
		}
		err := h.conditions()
		if err == nil {
			return []byte{}, nil
		}
		b := []byte(err.Error())
		return b[:min(len(b), pouf.MaxPreconditions)], nil
	}
	return h.BaseHandler.ReadDID(did)
}

// WriteDID implements uds.Handler.
func (h *Handler) WriteDID(did uint16, data []byte) error {
	return h.powered(func() error { return h.writeDID(did, data) })
}

func (h *Handler) writeDID(did uint16, data []byte) error {
	e := h.ECU()
	switch did {
	case pouf.DIDNonce:
		if err := pouf.ValidNonce(data); err != nil {
			return uds.Refuse(uds.RequestOutOfRange, "%v", err)
		}
		h.mu.Lock()
		h.report = nil
		h.partial = map[string]partial{} // a new cycle
		h.mu.Unlock()
		if err := e.SetNonce(data); err != nil {
			return refuse(err)
		}
		return nil
	case pouf.DIDTime:
		// a time attestation (docs/pouf.md, "Time"); SetTime refuses
		// anything else, an unauthenticated 8-byte time included
		if err := e.SetTime(data); err != nil {
			return refuse(err)
		}
		return nil
	}
	return h.BaseHandler.WriteDID(did, data)
}

// Routine implements uds.Handler.
func (h *Handler) Routine(id uint16, ctl uds.RoutineControlType, params []byte) (b []byte, err error) {
	err = h.powered(func() (err error) { b, err = h.routine(id, ctl, params); return })
	return
}

func (h *Handler) routine(id uint16, ctl uds.RoutineControlType, params []byte) ([]byte, error) {
	e := h.ECU()
	r := pouf.Result{Status: pouf.Passed}
	switch id {
	case pouf.RoutineVerifyMetadata:
		t, err := e.VerifyMetadata()
		if err != nil {
			r = pouf.FailedResult(err)
		} else if t != nil {
			r.Data = []byte{1}
		} else {
			r.Data = []byte{0}
		}
	case pouf.RoutineVerifyImage:
		if err := e.VerifyImage(); err != nil {
			r = pouf.FailedResult(err)
		}
	case pouf.RoutineInstall:
		if err := e.Install(); err != nil {
			r = pouf.FailedResult(err)
		}
	case pouf.RoutineVersionReport:
		b, err := e.VersionReport()
		if err != nil {
			r = pouf.FailedResult(err)
		} else {
			h.mu.Lock()
			h.report = b
			h.mu.Unlock()
		}
	case pouf.RoutineAbort:
		h.mu.Lock()
		h.partial = map[string]partial{}
		h.mu.Unlock()
	default:
		return h.BaseHandler.Routine(id, ctl, params)
	}
	return r.Encode()
}

// StartDownload implements uds.Handler: metadata and images are buffered
// in RAM and handed to the ECU on RequestTransferExit. A transfer cut short
// by a session change or an ECUReset keeps what arrived for ResumeFile; a
// power cut loses it, and ResumeFile then answers filePosition 0.
func (h *Handler) StartDownload(req uds.FileRequest) (sink uds.FileSink, err error) {
	err = h.powered(func() (err error) { sink, err = h.startDownload(req); return })
	return
}

func (h *Handler) startDownload(req uds.FileRequest) (uds.FileSink, error) {
	p, err := pouf.ParsePath(req.Path)
	if err != nil {
		return nil, uds.Refuse(uds.RequestOutOfRange, "%v", err)
	}
	e := h.ECU()
	limit := uint64(MaxMetadataFile)
	if p.IsImage() {
		limit = uint64(e.ImageLimit())
	} else if p.Repo == meta.Image && e.Verification() == Partial {
		return nil, uds.Refuse(uds.RequestOutOfRange, "a partial-verification ECU takes no Image repository metadata")
	}
	if req.Size > limit {
		err := check.Fail(check.PoufTransferSize, p.Repo, "", "%s announced %d bytes; at most %d", req.Path, req.Size, limit).OnECU(e.ID())
		if p.IsImage() && e.cfg.Profile.On(check.DownloadImageSize) {
			err = check.Fail(check.DownloadImageSize, meta.Director, meta.Targets, "image %s announced %d bytes; the metadata allows %d", p.Target, req.Size, limit).OnECU(e.ID())
		}
		e.mu.Lock()
		e.record(err)
		e.mu.Unlock()
		return nil, uds.Refuse(uds.UploadDownloadNotAccepted, "%s", err.Error())
	}
	h.crash("transfer:" + req.Path + ":start")
	s := &sink{h: h, path: p, key: req.Path, size: req.Size, limit: limit, start: e.cfg.Clock.Now()}
	h.mu.Lock()
	// ResumeFile continues only the same file (path and size); anything
	// else starts the path over
	if kept, ok := h.partial[req.Path]; ok && req.Mode == uds.ResumeFile && kept.size == req.Size {
		s.buf = append([]byte(nil), kept.data...)
		s.resumed = len(s.buf)
	}
	delete(h.partial, req.Path)
	h.mu.Unlock()
	return s, nil
}

type sink struct {
	h     *Handler
	path  pouf.Path
	key   string
	size  uint64 // announced
	buf   []byte
	limit uint64
	// start is when the transfer was announced; resumed is what a resumed
	// transfer already had (not counted in its rate).
	start   time.Time
	resumed int
}

func (s *sink) Offset() uint64 { return uint64(len(s.buf)) }

// Write takes one TransferData block. A cut at the ":block@<offset>"
// crash point lands while the block is being taken in.
func (s *sink) Write(p []byte) error {
	return s.h.powered(func() error {
		if uint64(len(s.buf)+len(p)) > s.limit {
			return fmt.Errorf("secondary: %s exceeds %d bytes", s.key, s.limit)
		}
		s.h.crash(fmt.Sprintf("transfer:%s:block@%d", s.key, len(s.buf)))
		if s.path.IsImage() {
			// a single-bank ECU (without install_image.atomic) programs
			// the block over its running image as it arrives
			if err := s.h.ECU().st.ProgramBlock(int64(len(s.buf)), p); err != nil {
				return err
			}
		}
		s.buf = append(s.buf, p...)
		return s.checkSpeed()
	})
}

// checkSpeed is the in-vehicle requirement "All ECUs SHALL monitor the
// download speed of image metadata and image binaries" on the bus: once the
// grace period has passed since the transfer was announced, a transfer
// slower on average than the ECU's threshold is aborted and reported
// (in_vehicle.bus_download_speed). A Primary that trickles blocks just
// inside the session timeout (S3) is stopped here.
func (s *sink) checkSpeed() error {
	e := s.h.ECU()
	cfg := e.cfg
	if !cfg.Profile.On(check.InVehicleBusDownloadSpeed) {
		return nil
	}
	el := cfg.Clock.Since(s.start)
	if el <= cfg.Grace {
		return nil
	}
	got := len(s.buf) - s.resumed
	if rate := float64(got) / el.Seconds(); rate < float64(cfg.MinRate) {
		err := check.Fail(check.InVehicleBusDownloadSpeed, s.path.Repo, "", "%s: %d bytes in %s is %.0f B/s, below the %d B/s threshold",
			s.key, got, el.Round(time.Millisecond), rate, cfg.MinRate).OnECU(e.ID())
		e.mu.Lock()
		e.record(err)
		e.mu.Unlock()
		return err
	}
	return nil
}

// Commit is RequestTransferExit: the whole file goes to the ECU.
func (s *sink) Commit() error {
	return s.h.powered(func() error {
		s.h.crash("transfer:" + s.key + ":exit")
		e := s.h.ECU()
		s.h.mu.Lock()
		delete(s.h.partial, s.key)
		s.h.mu.Unlock()
		if s.path.IsImage() {
			return e.PutImage(s.path.Target, s.buf)
		}
		return e.PutMetadata(s.path.Repo, s.path.Name, s.buf)
	})
}

// Abort keeps a resumable transfer's data in RAM, unless the power is gone
// (it went with it).
func (s *sink) Abort(resumable bool) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if resumable && s.h.cut == "" {
		s.h.partial[s.key] = partial{size: s.size, data: s.buf}
	}
}

// Reset implements uds.Handler: the ECU reboots from its state directory.
// The partial downloads survive a requested reset (docs/pouf.md,
// "Resuming"); a power cut while it boots leaves the ECU unpowered.
func (h *Handler) Reset(uds.ResetType) {
	_ = h.powered(func() error {
		e, err := Boot(h.cfg)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.bootErr = err
		if err == nil {
			h.ecu = e
		}
		h.report = nil
		return nil
	})
}

// parseRawTime reads the 8-byte time a control ECU without
// verify_time.attestation still takes unauthenticated.
var parseRawTime = pouf.ParseTime
