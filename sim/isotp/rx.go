package isotp

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// initialRxCap is the buffer a reception starts with; it doubles as bytes
// arrive, up to the announced length, so a first frame that announces a
// large message costs nothing until the data comes.
const initialRxCap = 4096

// receiver is the reassembly state machine of one channel. It is pure: it
// is driven by frames and the current time, and acts through callbacks, so
// the fuzz test can drive it without a bus.
type receiver struct {
	ae    int  // address bytes before the PCI (0 or 1)
	addr  byte // expected address byte (extended addressing)
	fd    bool // accept CAN FD frames
	maxRx int
	bs    uint8
	nCr   time.Duration
	rxID  uint32
	rxExt bool // 29-bit receive identifier

	// sendFC sends a flow control frame with the given flow status.
	sendFC func(fs byte) error
	// deliver hands over a complete message or a reception error; it
	// reports false when the receive queue was full.
	deliver func(msg []byte, err *Error) bool
	// full reports whether the receive queue is full.
	full func() bool
	// onFC handles a flow control frame (it belongs to the sender).
	onFC func(f *can.Frame, ae int)
	// observe, when set, reports an event (Time and Dir are filled in by
	// the caller).
	observe func(ev Event)

	// reception in progress
	active   bool
	buf      []byte
	want     int // FF_DL
	sn       byte
	rxDL     int // data length of the sender's FF and CFs
	cfs      int // CFs received
	totalCFs int
	bsCount  int
	deadline time.Time
}

// deadlineAt returns the N_Cr deadline of the reception in progress.
func (r *receiver) deadlineAt() (time.Time, bool) { return r.deadline, r.active }

// expire ends the reception in progress when its N_Cr deadline has passed.
func (r *receiver) expire(now time.Time) {
	if !r.active || now.Before(r.deadline) {
		return
	}
	err := &Error{Kind: KindTimeout, Timer: "N_Cr",
		Msg: fmt.Sprintf("N_Cr timeout after CF %d of %d (rx id %#x)", r.cfs, r.totalCFs, r.rxID)}
	r.reset()
	if r.observe != nil {
		r.observe(Event{Type: NoFrame, Info: "reception timed out", Err: err})
	}
	r.deliver(nil, err)
}

func (r *receiver) reset() {
	r.active = false
	r.buf = nil
}

func (r *receiver) ignore(f *can.Frame, t FrameType, why string) {
	if r.observe != nil {
		r.observe(Event{Type: t, Frame: *f, Ignored: true, Info: "ignored: " + why})
	}
}

// handle processes one received frame at time now.
func (r *receiver) handle(f *can.Frame, now time.Time) {
	if f.ID != r.rxID || f.Extended != r.rxExt {
		r.ignore(f, UnknownFrame, fmt.Sprintf("identifier %#x is not the channel's %#x", f.ID, r.rxID))
		return
	}
	if f.Remote {
		r.ignore(f, UnknownFrame, "remote frame")
		return
	}
	if f.FD && !r.fd {
		r.ignore(f, UnknownFrame, "CAN FD frame on a classic CAN channel")
		return
	}
	n := int(f.Len)
	if n > can.MaxFDLen || (!f.FD && n > can.MaxClassicLen) || (f.FD && !can.ValidFDLen(n)) {
		r.ignore(f, UnknownFrame, fmt.Sprintf("invalid data length %d", n))
		return
	}
	ae := r.ae
	if n < ae+1 {
		r.ignore(f, UnknownFrame, "no protocol control information")
		return
	}
	d := f.Data[:n]
	if ae == 1 && d[0] != r.addr {
		r.ignore(f, UnknownFrame, fmt.Sprintf("address byte %#02x is not ours (%#02x)", d[0], r.addr))
		return
	}
	switch d[ae] >> 4 {
	case pciSF:
		r.single(f, d)
	case pciFF:
		r.first(f, d, now)
	case pciCF:
		r.consecutive(f, d, now)
	case pciFC:
		r.onFC(f, ae)
	default:
		r.ignore(f, UnknownFrame, fmt.Sprintf("unknown N_PCI type %d", d[ae]>>4))
	}
}

// abort ends the reception in progress because a new SF or FF arrived
// (ISO 15765-2: N_UNEXP_PDU; the new frame starts a new reception).
func (r *receiver) abort(f *can.Frame, t FrameType) {
	err := errorf(KindProtocol, "reception of a %d-byte message aborted after %d bytes (CF %d of %d) by a new %s (rx id %#x)",
		r.want, len(r.buf), r.cfs, r.totalCFs, t, r.rxID)
	r.reset()
	if r.observe != nil {
		r.observe(Event{Type: t, Frame: *f, Info: "reception aborted", Err: err})
	}
	r.deliver(nil, err)
}

func (r *receiver) single(f *can.Frame, d []byte) {
	ae := r.ae
	var sfdl, off int
	if len(d) <= can.MaxClassicLen {
		sfdl, off = int(d[ae]&0x0f), ae+1
		if sfdl == 0 {
			r.ignore(f, SingleFrame, "SF_DL 0")
			return
		}
	} else {
		if d[ae]&0x0f != 0 {
			r.ignore(f, SingleFrame, "SF longer than 8 bytes without the SF_DL escape")
			return
		}
		sfdl, off = int(d[ae+1]), ae+2
		if sfdl <= 7-ae {
			// ISO 15765-2: with CAN_DL > 8 the escape SF_DL must not fit
			// a classic single frame
			r.ignore(f, SingleFrame, fmt.Sprintf("escape SF_DL %d fits a short SF", sfdl))
			return
		}
	}
	if off+sfdl > len(d) {
		r.ignore(f, SingleFrame, fmt.Sprintf("SF_DL %d exceeds the %d-byte frame", sfdl, len(d)))
		return
	}
	if r.active {
		r.abort(f, SingleFrame)
	}
	msg := make([]byte, sfdl)
	copy(msg, d[off:])
	if r.observe != nil {
		r.observe(Event{Type: SingleFrame, Frame: *f, Info: fmt.Sprintf("SF %d bytes", sfdl)})
	}
	r.complete(msg)
}

func (r *receiver) complete(msg []byte) {
	if !r.deliver(msg, nil) && r.observe != nil {
		r.observe(Event{Type: NoFrame, Err: errorf(KindOverflow,
			"receive queue full: %d-byte message dropped (rx id %#x)", len(msg), r.rxID)})
	}
}

func (r *receiver) first(f *can.Frame, d []byte, now time.Time) {
	ae := r.ae
	rxDL := len(d)
	if rxDL < can.MaxClassicLen {
		r.ignore(f, FirstFrame, fmt.Sprintf("FF of %d bytes (at least 8)", rxDL))
		return
	}
	ffdl := uint64(d[ae]&0x0f)<<8 | uint64(d[ae+1])
	off := ae + 2
	if ffdl == 0 {
		ffdl = uint64(binary.BigEndian.Uint32(d[ae+2:]))
		off = ae + 6
		if ffdl <= maxFF12 {
			r.ignore(f, FirstFrame, fmt.Sprintf("escape FF_DL %d fits 12 bits", ffdl))
			return
		}
	}
	if min := sfMax(rxDL, ae) + 1; ffdl < uint64(min) {
		r.ignore(f, FirstFrame, fmt.Sprintf("FF_DL %d fits a single frame (minimum %d)", ffdl, min))
		return
	}
	if r.active {
		r.abort(f, FirstFrame)
	}
	var err *Error
	switch {
	case ffdl > uint64(r.maxRx):
		err = errorf(KindOverflow, "FF announces %d bytes, more than the %d-byte receive limit; sent FC OVFLW (rx id %#x)",
			ffdl, r.maxRx, r.rxID)
	case r.full():
		err = errorf(KindOverflow, "receive queue full at a %d-byte FF; sent FC OVFLW (rx id %#x)", ffdl, r.rxID)
	}
	if err != nil {
		if r.observe != nil {
			r.observe(Event{Type: FirstFrame, Frame: *f, Info: "overflow", Err: err})
		}
		r.deliver(nil, err)
		r.sendFC(fsOverflow)
		return
	}
	want := int(ffdl)
	first := rxDL - off
	per := rxDL - ae - 1
	r.active = true
	r.want = want
	r.rxDL = rxDL
	r.buf = make([]byte, 0, min(want, max(initialRxCap, first)))
	r.buf = append(r.buf, d[off:]...)
	r.sn = 1
	r.cfs = 0
	r.totalCFs = (want - first + per - 1) / per
	r.bsCount = 0
	r.deadline = now.Add(r.nCr)
	if r.observe != nil {
		r.observe(Event{Type: FirstFrame, Frame: *f, Info: fmt.Sprintf("FF %d bytes, %d CFs to come", want, r.totalCFs)})
	}
	if err := r.sendFC(fsCTS); err != nil {
		r.reset()
		r.deliver(nil, &Error{Kind: KindOf(err), Timer: timerOf(err),
			Msg: fmt.Sprintf("sending FC after FF (rx id %#x)", r.rxID), Err: err})
	}
}

func timerOf(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Timer
	}
	return ""
}

func (r *receiver) consecutive(f *can.Frame, d []byte, now time.Time) {
	if !r.active {
		r.ignore(f, ConsecutiveFrame, "CF while no reception is in progress")
		return
	}
	ae := r.ae
	if len(d) > r.rxDL {
		r.ignore(f, ConsecutiveFrame, fmt.Sprintf("CF of %d bytes, longer than the FF (%d)", len(d), r.rxDL))
		return
	}
	left := r.want - len(r.buf)
	got := len(d) - ae - 1
	if got < left && len(d) < r.rxDL {
		r.ignore(f, ConsecutiveFrame, fmt.Sprintf("short CF (%d bytes) before the last", len(d)))
		return
	}
	if sn := d[ae] & 0x0f; sn != r.sn {
		err := errorf(KindProtocol, "wrong sequence number %d in CF %d of %d, expected %d; reception aborted (rx id %#x)",
			sn, r.cfs+1, r.totalCFs, r.sn, r.rxID)
		r.reset()
		if r.observe != nil {
			r.observe(Event{Type: ConsecutiveFrame, Frame: *f, Info: "reception aborted", Err: err})
		}
		r.deliver(nil, err)
		return
	}
	take := min(got, left)
	if need := len(r.buf) + take; need > cap(r.buf) {
		nb := make([]byte, len(r.buf), min(r.want, max(2*cap(r.buf), need)))
		copy(nb, r.buf)
		r.buf = nb
	}
	r.buf = append(r.buf, d[ae+1:ae+1+take]...)
	r.sn = (r.sn + 1) & 0x0f
	r.cfs++
	if r.observe != nil {
		r.observe(Event{Type: ConsecutiveFrame, Frame: *f, Info: fmt.Sprintf("CF %d of %d", r.cfs, r.totalCFs)})
	}
	if len(r.buf) == r.want {
		msg := r.buf
		r.reset()
		r.complete(msg)
		return
	}
	r.deadline = now.Add(r.nCr)
	if r.bs == 0 {
		return
	}
	r.bsCount++
	if r.bsCount < int(r.bs) {
		return
	}
	r.bsCount = 0
	if err := r.sendFC(fsCTS); err != nil {
		r.reset()
		r.deliver(nil, &Error{Kind: KindOf(err), Timer: timerOf(err),
			Msg: fmt.Sprintf("sending FC after CF %d (rx id %#x)", r.cfs, r.rxID), Err: err})
	}
}
