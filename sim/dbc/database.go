// Package dbc loads a vehicle network description (a Vector DBC file) into
// the messages and signals the rest-bus sends and the decoder reads: the
// file is parsed by go.einride.tech/can/pkg/dbc, then checked (signals
// inside their message and not overlapping, a cycle time for every cyclic
// message, CAN FD lengths) and compiled into Message and Signal values.
//
// Classic messages (up to 8 bytes) also carry an einride descriptor, used to
// pack them; CAN FD messages (up to 64 bytes) are packed by this package's
// own bit layout on the same definitions (pack.go), which agrees with
// einride's on every classic message.
//
// Attributes read (Vector's conventions): GenMsgCycleTime (ms),
// GenMsgSendType (Cyclic, CyclicIfActive, ... are cyclic; anything else is
// sent only on request), GenMsgStartDelay (ms), GenSigStartValue (raw
// value), VFrameFormat (StandardCAN_FD / ExtendedCAN_FD mark an FD frame).
package dbc

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.einride.tech/can/pkg/descriptor"
)

// Pos is a place in a DBC file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is what is wrong with a DBC file, and where.
type Error struct {
	Pos    Pos
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("dbc: %s: %s", e.Pos, e.Reason) }

// ErrInvalid is wrapped by every error about a DBC file's content.
var ErrInvalid = errors.New("invalid DBC")

func (e *Error) Unwrap() error { return ErrInvalid }

// SendType says when a message is sent.
type SendType uint8

// The send types.
const (
	// SendOnRequest messages are sent only when something asks for them
	// (event, spontaneous, or no send type).
	SendOnRequest SendType = iota
	// SendCyclic messages are sent every Cycle.
	SendCyclic
)

func (s SendType) String() string {
	if s == SendCyclic {
		return "cyclic"
	}
	return "on-request"
}

// Database is a loaded DBC file.
type Database struct {
	File     string
	Nodes    []string
	Messages []*Message // in file order
	byName   map[string]*Message
	byID     map[uint32]*Message
}

// Message is one frame of the network.
type Message struct {
	Name     string
	ID       uint32
	Extended bool
	FD       bool // a CAN FD frame (VFrameFormat, or longer than 8 bytes)
	Size     int  // data bytes
	Sender   string
	SendType SendType
	// Cycle is GenMsgCycleTime; StartDelay GenMsgStartDelay.
	Cycle, StartDelay time.Duration
	Signals           []*Signal // in file order
	Pos               Pos
	desc              *descriptor.Message // classic messages only
}

// Signal is one signal of a message.
type Signal struct {
	Name              string
	Start, Length     int
	BigEndian, Signed bool
	Factor, Offset    float64
	Min, Max          float64
	Unit              string
	// StartValue is the raw value the signal has until something sets it
	// (GenSigStartValue).
	StartValue int64
	// Values are the value descriptions (VAL_), raw value to text.
	Values map[int64]string
	Pos    Pos
	desc   *descriptor.Signal
}

// Load reads and checks a DBC file.
func Load(path string) (*Database, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dbc: %w", err)
	}
	return Parse(path, data)
}

// Message returns the message with this name.
func (db *Database) Message(name string) (*Message, bool) {
	m, ok := db.byName[name]
	return m, ok
}

// MessageByID returns the message with this identifier.
func (db *Database) MessageByID(id uint32, extended bool) (*Message, bool) {
	m, ok := db.byID[idKey(id, extended)]
	return m, ok
}

// SentBy returns the messages the named nodes send, in file order.
func (db *Database) SentBy(nodes []string) []*Message {
	set := map[string]bool{}
	for _, n := range nodes {
		set[n] = true
	}
	var out []*Message
	for _, m := range db.Messages {
		if set[m.Sender] {
			out = append(out, m)
		}
	}
	return out
}

// HasNode reports whether the file declares the node.
func (db *Database) HasNode(name string) bool {
	for _, n := range db.Nodes {
		if n == name {
			return true
		}
	}
	return false
}

// Signal returns the signal with this name.
func (m *Message) Signal(name string) (*Signal, bool) {
	for _, s := range m.Signals {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// FindSignal returns the message and signal a signal name stands for: either
// "Message.Signal" or a signal name that only one message of the file has.
func (db *Database) FindSignal(name string) (*Message, *Signal, error) {
	if msg, sig, ok := strings.Cut(name, "."); ok {
		m, found := db.byName[msg]
		if !found {
			return nil, nil, fmt.Errorf("dbc %s: no message %q", db.File, msg)
		}
		s, found := m.Signal(sig)
		if !found {
			return nil, nil, fmt.Errorf("dbc %s: message %s has no signal %q", db.File, msg, sig)
		}
		return m, s, nil
	}
	var hits []string
	var hm *Message
	var hs *Signal
	for _, m := range db.Messages {
		if s, ok := m.Signal(name); ok {
			hits = append(hits, m.Name)
			hm, hs = m, s
		}
	}
	switch len(hits) {
	case 0:
		return nil, nil, fmt.Errorf("dbc %s: no signal %q", db.File, name)
	case 1:
		return hm, hs, nil
	}
	return nil, nil, fmt.Errorf("dbc %s: signal %q is in several messages (%s): name it Message.Signal", db.File, name, strings.Join(hits, ", "))
}

func idKey(id uint32, extended bool) uint32 {
	if extended {
		return id | 0x80000000
	}
	return id
}

// sortedNames returns the keys of a set, sorted.
func sortedNames(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
