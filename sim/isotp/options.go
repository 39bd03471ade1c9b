package isotp

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// Addressing is the ISO 15765-2 addressing format of a channel.
type Addressing uint8

const (
	// NormalAddressing: the CAN identifier alone names the channel; the
	// protocol control information starts at data byte 0.
	NormalAddressing Addressing = iota
	// ExtendedAddressing: data byte 0 carries a target address (TxAddr on
	// frames we send, RxAddr on frames we accept); the protocol control
	// information starts at byte 1. Frames on our receive identifier with
	// another address byte belong to another channel and are skipped.
	ExtendedAddressing
)

// Defaults from ISO 15765-2 and for the limits of this package.
const (
	DefaultTimeout = 1000 * time.Millisecond // N_As, N_Ar, N_Bs, N_Cr
	DefaultMaxRx   = 1 << 20                 // largest message we accept
	DefaultMaxWait = 10                      // N_WFTmax: consecutive FC WAIT accepted
	DefaultRxQueue = 16                      // received messages waiting for Recv
	// DefaultFDPad fills CAN FD frames up to the next valid length when
	// Options.Pad is off (ISO 15765-2 recommends 0xCC).
	DefaultFDPad = 0xCC
	// MaxMessage is the largest message ISO-TP can carry (32-bit FF_DL).
	MaxMessage = 1<<32 - 1
)

// Options configure one ISO-TP channel (a pair of CAN identifiers, like a
// kernel can-isotp socket).
type Options struct {
	// Name is the node's name on the bus (default "isotp-<txid>").
	Name string
	// TxID is the identifier of the frames we send, RxID the identifier of
	// the frames we accept (the node is attached with a filter for it).
	TxID, RxID uint32
	// Extended selects 29-bit identifiers for both.
	Extended bool
	// Addressing is normal (default) or extended; TxAddr and RxAddr are the
	// address bytes of extended addressing.
	Addressing     Addressing
	TxAddr, RxAddr byte

	// FD sends CAN FD frames (and accepts them; classic frames are always
	// accepted). TxDL is the CAN FD data length of our first and
	// consecutive frames: 8, 12, 16, 20, 24, 32, 48 or 64 (default 64;
	// classic CAN: 8). BRS sets the bit-rate switch on our FD frames.
	FD   bool
	TxDL int
	BRS  bool

	// Pad fills classic frames up to 8 bytes with PadByte (otherwise a
	// classic frame is only as long as its content, as ISO 15765-2:2016
	// allows). CAN FD frames are always filled up to the next valid FD
	// length, with PadByte when Pad is set and DefaultFDPad otherwise;
	// with Pad they are at least 8 bytes long.
	Pad     bool
	PadByte byte

	// BlockSize (0: no limit) and STmin are what we advertise in our flow
	// control frames: the sender pauses for an FC after BlockSize
	// consecutive frames and leaves STmin between them. STmin is rounded
	// up to what the format can express: 100..900 µs in 100 µs steps,
	// otherwise whole milliseconds up to 127 ms.
	BlockSize uint8
	STmin     time.Duration

	// Protocol timers (0: DefaultTimeout). N_As and N_Ar bound how long
	// handing one of our frames to the CAN node may take (the Node
	// interface has no transmit confirmation, so this is checked when Send
	// returns); N_Bs how long we wait for a flow control frame; N_Cr how
	// long we wait for the next consecutive frame.
	NAs, NAr, NBs, NCr time.Duration

	// MaxWait is N_WFTmax: how many FC WAIT in a row we accept before
	// aborting a transmission (0: DefaultMaxWait; negative: none).
	MaxWait int
	// MaxRx caps the size of a message we receive (0: DefaultMaxRx). A
	// first frame announcing more is answered with FC OVFLW; nothing is
	// allocated for it. Memory for a message grows with the bytes that
	// actually arrive, never ahead of them by more than a factor of two.
	MaxRx int
	// RxQueue is how many received messages (and reception errors) wait
	// for Recv (0: DefaultRxQueue). When it is full, a new first frame is
	// answered with FC OVFLW and a completed message is dropped (the
	// Observer sees it).
	RxQueue int

	// Observer, when set, is called for every frame the channel sends or
	// receives and for every reception or transmission error, on the actor
	// that handles it (Send's caller or the receive actor). It must not
	// block.
	Observer func(Event)
}

// normalize fills defaults and validates; fd tells whether the bus carries
// CAN FD.
func (o *Options) normalize(fd bool) error {
	bad := func(format string, args ...any) error {
		return &Error{Kind: KindInvalid, Msg: "options: " + fmt.Sprintf(format, args...)}
	}
	maxID := uint32(can.MaxStdID)
	if o.Extended {
		maxID = can.MaxExtID
	}
	switch {
	case o.TxID > maxID:
		return bad("tx id %#x does not fit the identifier format", o.TxID)
	case o.RxID > maxID:
		return bad("rx id %#x does not fit the identifier format", o.RxID)
	case o.Addressing > ExtendedAddressing:
		return bad("unknown addressing %d", o.Addressing)
	case o.FD && !fd:
		return &Error{Kind: KindInvalid, Msg: "options: CAN FD channel on a classic bus", Err: can.ErrNoFD}
	case o.BRS && !o.FD:
		return bad("BRS needs CAN FD")
	case !o.FD && o.TxDL != 0 && o.TxDL != 8:
		return bad("TX_DL %d on classic CAN (only 8)", o.TxDL)
	case o.FD && o.TxDL != 0 && (o.TxDL < 8 || !can.ValidFDLen(o.TxDL)):
		return bad("TX_DL %d is not one of 8, 12, 16, 20, 24, 32, 48, 64", o.TxDL)
	case o.STmin < 0 || o.STmin > 127*time.Millisecond:
		return bad("STmin %s outside 0..127ms", o.STmin)
	case o.NAs < 0 || o.NAr < 0 || o.NBs < 0 || o.NCr < 0:
		return bad("negative timeout")
	case o.MaxRx < 0 || int64(o.MaxRx) > MaxMessage:
		return bad("MaxRx %d outside 0..%d", o.MaxRx, int64(MaxMessage))
	case o.RxQueue < 0:
		return bad("negative RxQueue")
	}
	if o.Name == "" {
		o.Name = fmt.Sprintf("isotp-%x", o.TxID)
	}
	if o.TxDL == 0 {
		o.TxDL = 8
		if o.FD {
			o.TxDL = can.MaxFDLen
		}
	}
	for _, t := range []*time.Duration{&o.NAs, &o.NAr, &o.NBs, &o.NCr} {
		if *t == 0 {
			*t = DefaultTimeout
		}
	}
	switch {
	case o.MaxWait == 0:
		o.MaxWait = DefaultMaxWait
	case o.MaxWait < 0:
		o.MaxWait = 0
	}
	if o.MaxRx == 0 {
		o.MaxRx = DefaultMaxRx
	}
	if o.RxQueue == 0 {
		o.RxQueue = DefaultRxQueue
	}
	return nil
}

// addrLen is the number of address bytes before the PCI (0 or 1).
func (o *Options) addrLen() int {
	if o.Addressing == ExtendedAddressing {
		return 1
	}
	return 0
}

// Normalize fills in the defaults and validates the options as New does;
// fd tells whether the bus carries CAN FD. Another implementation of a
// channel (the kernel's can-isotp, sim/kisotp) takes the same options.
func (o *Options) Normalize(fd bool) error { return o.normalize(fd) }

// PadContent returns the byte our frames are padded with (PadByte with Pad,
// DefaultFDPad on CAN FD without it, 0 otherwise: classic frames are then
// not padded).
func (o *Options) PadContent() byte {
	switch {
	case o.Pad:
		return o.PadByte
	case o.FD:
		return DefaultFDPad
	}
	return 0
}
