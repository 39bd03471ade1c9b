package can

import (
	"errors"
	"time"
)

// Errors shared by every bus implementation. Implementations wrap them with
// the bus and node name (errors.Is works).
var (
	ErrTimeout = errors.New("can: receive timed out")
	ErrClosed  = errors.New("can: node or bus closed")
	ErrBusOff  = errors.New("can: node is bus-off")
	ErrNoFD    = errors.New("can: bus is not configured for CAN FD")
)

// Filter accepts a frame when (frame.ID & Mask) == (ID & Mask) and the
// identifier format matches, like a SocketCAN CAN_RAW_FILTER entry.
type Filter struct {
	ID       uint32
	Mask     uint32
	Extended bool
}

// Match reports whether the filter accepts f.
func (flt Filter) Match(f *Frame) bool {
	return f.Extended == flt.Extended && f.ID&flt.Mask == flt.ID&flt.Mask
}

// Exact returns a filter for exactly one identifier.
func Exact(id uint32, extended bool) Filter {
	m := uint32(MaxStdID)
	if extended {
		m = MaxExtID
	}
	return Filter{ID: id, Mask: m, Extended: extended}
}

// Bus is one CAN segment. Every node attached to it receives the frames the
// other nodes send (never its own), subject to its filters.
type Bus interface {
	// Name is the bus name from the rig (e.g. "powertrain", "vcan0").
	Name() string
	// FD reports whether the bus carries CAN FD frames.
	FD() bool
	// Attach adds a node. With no filters the node receives every frame.
	Attach(name string, filters ...Filter) (Node, error)
	// Tap calls fn for every frame that appears on the wire, in wire order,
	// with the sending node's name ("" when unknown, e.g. on SocketCAN). fn
	// must not block. It returns a function that removes the tap.
	Tap(fn func(Event)) (remove func())
	// Close detaches every node.
	Close() error
}

// Node is one attachment point on a bus: a controller of an ECU, an attacker
// or a tool.
type Node interface {
	Name() string
	// Send queues a frame for transmission. It blocks (on the bus's clock)
	// while the node's transmit queue is full.
	Send(f Frame) error
	// Recv returns the next received frame. timeout < 0 waits forever;
	// timeout 0 polls. It returns an error wrapping ErrTimeout or ErrClosed.
	Recv(timeout time.Duration) (Frame, error)
	Close() error
}

// BatchSender is a Node that hands several frames to its bus in one
// operation (SocketCAN: one sendmmsg system call instead of one write per
// frame). SendBatch sends the frames in order, as that many Sends would,
// and returns how many it sent: fewer than len(frames) only with an error.
// ISO-TP uses it for consecutive frames that need no gap between them.
type BatchSender interface {
	SendBatch(frames []Frame) (int, error)
}

// Deliverer is a Node that can hand each frame it accepts to a function,
// called in the bus's own delivery step, instead of queueing it for Recv:
// no goroutine wakes for a frame (the timed virtual bus under the simulated
// clock: the frame is handled in the clock callback that ends it on the
// wire, at that instant). ISO-TP receivers use it.
type Deliverer interface {
	// Deliver makes the node call fn for every frame it accepts, in wire
	// order, and fn(nil) once when the node or its bus is closed. fn must
	// not block and must not keep the frame; to answer it uses SendNow. It
	// reports false, and changes nothing, when the node cannot (then the
	// frames stay for Recv).
	Deliver(fn func(f *Frame)) bool
	// SendNow queues f as Send does, without ever waiting for room in the
	// transmit queue (a frame sent from the delivery function, which may
	// not block: a flow control frame).
	SendNow(f Frame) error
	// Full reports whether a Send now would wait for room in the transmit
	// queue: a delivery function that may have to send hands the frame to
	// an actor instead, which waits as a Send does.
	Full() bool
}

// Event is one frame seen on the wire.
type Event struct {
	Time   time.Time
	Frame  Frame
	Sender string
	// Fault names the fault the bus injected into this frame, NoFault for a
	// clean frame. A dropped frame still has an event (with FaultDrop), so
	// reports show it; captures leave it out.
	Fault Fault
}

// Fault names a fault a bus injects into a frame; its text is the label
// reports and tap events show.
type Fault string

// The faults a bus injects (sim/vbus says what each does).
const (
	NoFault                Fault = ""
	FaultDrop              Fault = "drop"
	FaultCorrupt           Fault = "corrupt"            // detected: receivers see a bad CRC, the frame is not delivered
	FaultCorruptUndetected Fault = "corrupt-undetected" // the receivers got the altered payload
	FaultDelay             Fault = "delay"
	FaultDuplicate         Fault = "duplicate"
	FaultReorder           Fault = "reorder"
	FaultBusOff            Fault = "bus-off"
)

// OnWire reports whether a frame with this fault reached the wire (and so a
// receiver or a capture): every fault but a drop or bus-off.
func (f Fault) OnWire() bool { return f != FaultDrop && f != FaultBusOff }
