package restbus

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// Algorithm names how a checksum signal is computed.
type Algorithm string

// The checksum algorithms.
const (
	// CRC8J1850 is CRC-8 SAE J1850: polynomial 0x1D, initial value 0xFF,
	// final XOR 0xFF (check value 0x4B over "123456789").
	CRC8J1850 Algorithm = "crc8-j1850"
	// XOR is the XOR of the covered bytes.
	XOR Algorithm = "xor"
)

// Algorithms lists the checksum algorithms, for messages.
var Algorithms = []Algorithm{CRC8J1850, XOR}

// CounterRule makes a signal a rolling (alive) counter: it goes up by one
// with every frame sent and wraps to 0 after its largest value (0-15 for a
// 4-bit signal), or after Modulo-1 when Modulo is set.
type CounterRule struct {
	Message, Signal string
	Modulo          int64
}

// ChecksumRule makes an 8-bit, byte-aligned signal the checksum of the
// other data bytes of its message (every byte but the checksum's own, in
// order), computed after the counter moved.
type ChecksumRule struct {
	Message, Signal string
	Algorithm       Algorithm
}

// Checksum computes alg over data.
func Checksum(alg Algorithm, data []byte) byte {
	switch alg {
	case CRC8J1850:
		crc := byte(0xff)
		for _, b := range data {
			crc ^= b
			for range 8 {
				if crc&0x80 != 0 {
					crc = crc<<1 ^ 0x1d
				} else {
					crc <<= 1
				}
			}
		}
		return crc ^ 0xff
	case XOR:
		var x byte
		for _, b := range data {
			x ^= b
		}
		return x
	}
	panic("restbus: unknown checksum algorithm " + string(alg))
}

// counter is a compiled CounterRule.
type counter struct {
	idx    int
	modulo int64
}

// checksum is a compiled ChecksumRule.
type checksum struct {
	idx  int
	byte int
	alg  Algorithm
}

func compileCounter(m *dbc.Message, r CounterRule) (counter, error) {
	i, ok := m.Index(r.Signal)
	if !ok {
		return counter{}, fmt.Errorf("restbus: counter: message %s has no signal %q", m.Name, r.Signal)
	}
	s := m.Signals[i]
	max := int64(1)<<min(s.Length, 62) - 1
	if s.Signed {
		return counter{}, fmt.Errorf("restbus: counter %s.%s: a counter signal must be unsigned", m.Name, s.Name)
	}
	mod := r.Modulo
	switch {
	case mod == 0:
		mod = max + 1
	case mod < 2 || mod > max+1:
		return counter{}, fmt.Errorf("restbus: counter %s.%s: modulo %d must be 2 to %d for a %d-bit signal", m.Name, s.Name, r.Modulo, max+1, s.Length)
	}
	return counter{idx: i, modulo: mod}, nil
}

func compileChecksum(m *dbc.Message, r ChecksumRule) (checksum, error) {
	i, ok := m.Index(r.Signal)
	if !ok {
		return checksum{}, fmt.Errorf("restbus: checksum: message %s has no signal %q", m.Name, r.Signal)
	}
	s := m.Signals[i]
	known := false
	for _, a := range Algorithms {
		known = known || a == r.Algorithm
	}
	if !known {
		return checksum{}, fmt.Errorf("restbus: checksum %s.%s: unknown algorithm %q (known: %v)", m.Name, s.Name, r.Algorithm, Algorithms)
	}
	// byte-aligned 8 bits: Intel from bit 8k, or Motorola from bit 8k+7
	aligned := s.Length == 8 && ((!s.BigEndian && s.Start%8 == 0) || (s.BigEndian && s.Start%8 == 7))
	if !aligned || s.Signed {
		return checksum{}, fmt.Errorf("restbus: checksum %s.%s: the signal must be 8 unsigned bits filling one byte (it is %d bits from bit %d)", m.Name, s.Name, s.Length, s.Start)
	}
	return checksum{idx: i, byte: s.Start / 8, alg: r.Algorithm}, nil
}
