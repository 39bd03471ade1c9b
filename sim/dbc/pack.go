package dbc

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	ecan "go.einride.tech/can"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// Bit numbering (the DBC convention): bit b is bit b%8 of byte b/8, bit 0
// the least significant. An Intel signal's start bit is its least
// significant bit and it grows towards higher bit numbers; a Motorola
// signal's start bit is its most significant bit and it grows towards the
// least significant bit of the byte, then on to bit 7 of the next byte
// (the "saw-tooth").

// bits returns the bit numbers of the signal, least significant first.
func (s *Signal) bits() []int {
	out := make([]int, s.Length)
	if !s.BigEndian {
		for i := range out {
			out[i] = s.Start + i
		}
		return out
	}
	p := s.Start
	for i := s.Length - 1; i >= 0; i-- {
		out[i] = p
		if p%8 == 0 {
			p += 15
		} else {
			p--
		}
	}
	return out
}

func (s *Signal) fits(size int) bool {
	for _, b := range s.bits() {
		if b >= size*8 {
			return false
		}
	}
	return true
}

// mask is the largest unsigned raw value.
func (s *Signal) mask() uint64 {
	if s.Length >= 64 {
		return math.MaxUint64
	}
	return 1<<s.Length - 1
}

// checkRaw reports whether raw is a value the signal's bits can hold.
func (s *Signal) checkRaw(raw int64) error {
	if s.Length >= 64 {
		return nil
	}
	if s.Signed {
		lo, hi := -(int64(1) << (s.Length - 1)), int64(1)<<(s.Length-1)-1
		if raw < lo || raw > hi {
			return fmt.Errorf("raw value %d does not fit in %d signed bits", raw, s.Length)
		}
		return nil
	}
	if raw < 0 || uint64(raw) > s.mask() {
		return fmt.Errorf("raw value %d does not fit in %d bits", raw, s.Length)
	}
	return nil
}

// SetRaw writes a raw value into data (at least the message's size); the
// value is truncated to the signal's bits.
func (s *Signal) SetRaw(data []byte, raw int64) {
	v := uint64(raw) & s.mask()
	for i, b := range s.bits() {
		if v>>i&1 != 0 {
			data[b/8] |= 1 << (b % 8)
		} else {
			data[b/8] &^= 1 << (b % 8)
		}
	}
}

// Raw reads the raw value of the signal from data, sign-extended for a
// signed signal.
func (s *Signal) Raw(data []byte) int64 {
	var v uint64
	for i, b := range s.bits() {
		if b/8 < len(data) && data[b/8]>>(b%8)&1 != 0 {
			v |= 1 << i
		}
	}
	if s.Signed && s.Length < 64 && v>>(s.Length-1)&1 != 0 {
		v |= ^s.mask()
	}
	return int64(v)
}

// Physical converts a raw value to the physical value (raw*factor+offset).
func (s *Signal) Physical(raw int64) float64 {
	if !s.Signed && s.Length == 64 {
		return float64(uint64(raw))*s.Factor + s.Offset
	}
	return float64(raw)*s.Factor + s.Offset
}

// FromPhysical converts a physical value to the raw value, checking the
// signal's range ([min|max], when the file gives one) and bit width.
func (s *Signal) FromPhysical(v float64) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("signal %s: %v is not a value", s.Name, v)
	}
	if s.Min < s.Max && (v < s.Min || v > s.Max) {
		return 0, fmt.Errorf("signal %s: %v %s is outside [%v, %v]", s.Name, v, s.Unit, s.Min, s.Max)
	}
	r := math.Round((v - s.Offset) / s.Factor)
	if r < -(1<<63) || r >= 1<<63 {
		return 0, fmt.Errorf("signal %s: %v is out of range", s.Name, v)
	}
	raw := int64(r)
	if err := s.checkRaw(raw); err != nil {
		return 0, fmt.Errorf("signal %s: %v", s.Name, err)
	}
	return raw, nil
}

// ParseValue reads a value as a rig or scenario writes it: the text of a
// value description (case-insensitive, e.g. "ON", "P") or a physical
// number. It returns the raw value.
func (s *Signal) ParseValue(text string) (int64, error) {
	text = strings.TrimSpace(text)
	for raw, name := range s.Values {
		if strings.EqualFold(name, text) {
			return raw, nil
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		names := make([]string, 0, len(s.Values))
		for _, n := range s.Values {
			names = append(names, n)
		}
		if len(names) == 0 {
			return 0, fmt.Errorf("signal %s: %q is not a number", s.Name, text)
		}
		return 0, fmt.Errorf("signal %s: %q is neither a number nor one of its values (%s)", s.Name, text, strings.Join(sortedUnique(names), ", "))
	}
	return s.FromPhysical(v)
}

// Format returns the physical value of raw as text, with its value
// description when it has one.
func (s *Signal) Format(raw int64) string {
	v := strconv.FormatFloat(s.Physical(raw), 'g', -1, 64)
	if name, ok := s.Values[raw]; ok {
		return v + " (" + name + ")"
	}
	return v
}

// StartValues returns the raw start value of every signal, in signal order.
func (m *Message) StartValues() []int64 {
	out := make([]int64, len(m.Signals))
	for i, s := range m.Signals {
		out[i] = s.StartValue
	}
	return out
}

// Frame packs raw values (one per signal, in signal order) into a frame:
// through einride's descriptor for a classic message, through this
// package's layout for a CAN FD one (sent with bit-rate switch).
func (m *Message) Frame(raw []int64) can.Frame {
	if m.desc != nil {
		var d ecan.Data
		for i, s := range m.Signals {
			if s.Signed {
				s.desc.MarshalSigned(&d, raw[i])
			} else {
				s.desc.MarshalUnsigned(&d, uint64(raw[i])&s.mask())
			}
		}
		f := can.Frame{ID: m.ID, Extended: m.Extended, Len: uint8(m.Size)}
		copy(f.Data[:], d[:])
		return f
	}
	return m.pack(raw)
}

// pack is the package's own packing, for any length.
func (m *Message) pack(raw []int64) can.Frame {
	f := can.Frame{ID: m.ID, Extended: m.Extended, FD: m.FD, BRS: m.FD, Len: uint8(m.Size)}
	for i, s := range m.Signals {
		s.SetRaw(f.Data[:m.Size], raw[i])
	}
	return f
}

// Decode returns the raw value of every signal in f, in signal order.
func (m *Message) Decode(f *can.Frame) []int64 {
	out := make([]int64, len(m.Signals))
	for i, s := range m.Signals {
		out[i] = s.Raw(f.Payload())
	}
	return out
}

// Index returns the position of the named signal in Signals.
func (m *Message) Index(name string) (int, bool) {
	for i, s := range m.Signals {
		if s.Name == name {
			return i, true
		}
	}
	return 0, false
}

func sortedUnique(in []string) []string {
	set := map[string]bool{}
	for _, s := range in {
		set[s] = true
	}
	return sortedNames(set)
}
