package isotp

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// Direction tells whether an Event is about a frame we sent or received.
type Direction uint8

// Directions of an Event.
const (
	TX Direction = iota
	RX
)

func (d Direction) String() string {
	if d == TX {
		return "tx"
	}
	return "rx"
}

// FrameType is the ISO-TP frame type of an Event.
type FrameType uint8

// Frame types. NoFrame marks events without a frame (a timer expired).
const (
	NoFrame FrameType = iota
	SingleFrame
	FirstFrame
	ConsecutiveFrame
	FlowControl
	UnknownFrame
)

var frameTypeNames = [...]string{"-", "SF", "FF", "CF", "FC", "??"}

func (t FrameType) String() string {
	if int(t) < len(frameTypeNames) {
		return frameTypeNames[t]
	}
	return "??"
}

func typeOf(pci byte) FrameType {
	switch pci >> 4 {
	case pciSF:
		return SingleFrame
	case pciFF:
		return FirstFrame
	case pciCF:
		return ConsecutiveFrame
	case pciFC:
		return FlowControl
	}
	return UnknownFrame
}

// Event is one frame-level happening on a channel, for tests and reports.
type Event struct {
	Time  time.Time
	Dir   Direction
	Type  FrameType
	Frame can.Frame // the frame (zero for NoFrame)
	// Ignored is set for a received frame the channel dropped (malformed,
	// unexpected, another channel's address byte, ...); Info says why.
	Ignored bool
	// Info describes the frame or what was done with it.
	Info string
	// Err is the error the event raised or ended (a reception aborted, a
	// timer expired), or nil.
	Err error
}
