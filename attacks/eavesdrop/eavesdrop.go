// Package eavesdrop is the eavesdropper of the Standard's threat model
// ({#threats}: "read sensitive or confidential information from an update
// intended to be encrypted for a specific ECU") on the vehicle network: a
// passive tap on a bus — a dongle on the OBD port, a compromised ECU — that
// records every frame it sees, reassembles the ISO-TP messages they carry,
// and is judged by how much of a secret (an image's plaintext) it learned.
//
// The tap never sends. It reassembles ISO 15765-2 messages per CAN
// identifier under both normal and extended addressing (it does not know
// which the channel uses; the wrong reading yields noise that matches
// nothing), classic and CAN FD, 12-bit and 32-bit first frames. A
// reception cut short (a missing or out-of-order consecutive frame, a new
// first frame) is kept as far as it got: an eavesdropper loses nothing it
// has seen. Hostile or malformed frames are ignored; the memory it keeps is
// bounded by Options.MaxBytes.
package eavesdrop

import (
	"encoding/binary"
	"sort"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// DefaultMaxBytes bounds the reassembled data a Tap keeps.
const DefaultMaxBytes = 64 << 20

// Block is the unit in which leaked plaintext is counted: a block of the
// secret counts as leaked when its 16 bytes appear verbatim in a recorded
// message (random 16-byte strings do not collide by chance).
const Block = 16

// Options configure a Tap.
type Options struct {
	// MaxBytes bounds the message data kept (default DefaultMaxBytes);
	// frames beyond it are counted but their data is dropped.
	MaxBytes int64
}

// channel is one reading of one CAN identifier: ae address bytes before
// the ISO-TP protocol control information.
type channel struct {
	id       uint32
	extended bool
	ae       int
}

type stream struct {
	active bool
	want   int
	next   byte // expected sequence number
	buf    []byte
}

// Tap records and reassembles the traffic of the buses it is attached to.
type Tap struct {
	mu       sync.Mutex
	max      int64
	kept     int64
	frames   int
	streams  map[channel]*stream
	messages [][]byte
}

// New returns a tap that has seen nothing yet.
func New(o Options) *Tap {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return &Tap{max: o.MaxBytes, streams: map[channel]*stream{}}
}

// Attach starts recording bus; the returned function stops it.
func (t *Tap) Attach(b can.Bus) (stop func()) { return b.Tap(t.Frame) }

// Frame records one frame seen on the wire (a can.Bus tap callback). A
// frame the bus dropped never reached the wire and is not recorded.
func (t *Tap) Frame(ev can.Event) {
	if ev.Fault == can.FaultDrop || ev.Frame.Remote {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frames++
	f := ev.Frame
	for ae := 0; ae <= 1; ae++ {
		d := f.Payload()
		if len(d) <= ae {
			continue
		}
		t.handle(channel{id: f.ID, extended: f.Extended, ae: ae}, d[ae:], int(f.Len) > can.MaxClassicLen)
	}
}

// handle feeds the ISO-TP part d (PCI first) of a frame to channel c.
func (t *Tap) handle(c channel, d []byte, long bool) {
	s := t.streams[c]
	if s == nil {
		s = &stream{}
		t.streams[c] = s
	}
	switch d[0] >> 4 {
	case 0x0: // single frame
		n, off := int(d[0]&0x0f), 1
		if n == 0 && long && len(d) >= 2 { // CAN FD escape: SF_DL in byte 1
			n, off = int(d[1]), 2
		}
		if n == 0 || off+n > len(d) {
			return
		}
		t.cut(s)
		if t.room(n) {
			t.messages = append(t.messages, append([]byte(nil), d[off:off+n]...))
		}
	case 0x1: // first frame
		if len(d) < 2 {
			return
		}
		n, off := int(d[0]&0x0f)<<8|int(d[1]), 2
		if n == 0 { // 32-bit FF_DL escape
			if len(d) < 6 {
				return
			}
			n, off = int(binary.BigEndian.Uint32(d[2:6])), 6
		}
		if n == 0 || off > len(d) {
			return
		}
		t.cut(s)
		chunk := d[off:min(len(d), off+n)]
		if !t.room(len(chunk)) {
			return
		}
		s.active, s.want, s.next = true, n, 1
		s.buf = append([]byte(nil), chunk...)
		t.done(s)
	case 0x2: // consecutive frame
		if !s.active {
			return
		}
		if d[0]&0x0f != s.next {
			t.cut(s) // out of order: keep what arrived, wait for the next FF
			return
		}
		s.next = (s.next + 1) & 0x0f
		chunk := d[1:min(len(d), 1+s.want-len(s.buf))]
		if !t.room(len(chunk)) {
			t.cut(s) // no memory left for it: keep what arrived
			return
		}
		s.buf = append(s.buf, chunk...)
		t.done(s)
	}
	// 0x3 flow control and reserved types carry no data.
}

// done delivers a complete reception.
func (t *Tap) done(s *stream) {
	if s.active && len(s.buf) >= s.want {
		t.cut(s)
	}
}

// cut ends the reception in progress, keeping what arrived.
func (t *Tap) cut(s *stream) {
	if s.active && len(s.buf) > 0 {
		t.messages = append(t.messages, s.buf)
	}
	s.active, s.buf = false, nil
}

// room reserves n more bytes of the memory bound (messages kept and
// receptions in progress), or reports false when they do not fit.
func (t *Tap) room(n int) bool {
	if t.kept+int64(n) > t.max {
		return false
	}
	t.kept += int64(n)
	return true
}

// Frames is the number of frames recorded.
func (t *Tap) Frames() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.frames
}

// Messages returns the reassembled messages, in the order they ended,
// followed by the receptions still in progress (as far as they got).
func (t *Tap) Messages() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([][]byte(nil), t.messages...)
	cs := make([]channel, 0, len(t.streams))
	for c, s := range t.streams {
		if s.active && len(s.buf) > 0 {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.id != b.id {
			return a.id < b.id
		}
		if a.extended != b.extended {
			return !a.extended
		}
		return a.ae < b.ae
	})
	for _, c := range cs {
		out = append(out, append([]byte(nil), t.streams[c].buf...))
	}
	return out
}

// Leaked returns how many bytes of secret the tap learned: Block times the
// number of the secret's Block-aligned blocks that appear verbatim in a
// recorded message.
func (t *Tap) Leaked(secret []byte) int { return Leaked(secret, t.Messages()) }

// Leaked returns how many bytes of secret appear in messages, counted in
// the secret's whole Block-aligned blocks.
func Leaked(secret []byte, messages [][]byte) int {
	n := len(secret) / Block
	if n == 0 {
		return 0
	}
	at := make(map[[Block]byte][]int, n)
	for i := 0; i < n; i++ {
		var k [Block]byte
		copy(k[:], secret[i*Block:])
		at[k] = append(at[k], i)
	}
	found := make([]bool, n)
	count := 0
	for _, m := range messages {
		for off := 0; off+Block <= len(m); off++ {
			var k [Block]byte
			copy(k[:], m[off:])
			for _, i := range at[k] {
				if !found[i] {
					found[i] = true
					count++
				}
			}
		}
	}
	return count * Block
}
