package vbus

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// Bits describes the bitstream of one frame as a transmitter puts it on the
// wire (ISO 11898-1:2015), from the start-of-frame bit to the end of the
// intermission.
//
// What is modelled, field by field:
//   - classic base frame: SOF, 11-bit ID, RTR, IDE, r0, DLC, data, CRC-15;
//     extended frame: SOF, 11-bit base ID, SRR, IDE, 18-bit ID extension,
//     RTR, r1, r0, DLC, data, CRC-15. Remote frames carry no data field.
//     Dynamic stuff bits (one complement bit after five equal bits, the
//     stuff bit counting towards the next run) are inserted from SOF up to
//     and including the last CRC bit. The CRC-15 (polynomial 0x4599, zero
//     initial value) covers the unstuffed bits SOF..data.
//   - CAN FD base frame: SOF, 11-bit ID, RRS, IDE, FDF, res, BRS, ESI, DLC,
//     data; extended: SOF, base ID, SRR, IDE, ID extension, RRS, FDF, res,
//     BRS, ESI, DLC, data. Dynamic stuffing runs from SOF to the end of the
//     data field (no dynamic stuff bit after the last data bit: the fixed
//     stuff bit takes its place). Then the stuff count (number of dynamic
//     stuff bits modulo 8, Gray-coded, plus an even parity bit), and the
//     CRC-17 (up to 16 data bytes) or CRC-21, with fixed stuff bits (the
//     complement of the previous bit) before the stuff count and after every
//     fourth bit of stuff count and CRC: 6 for CRC-17, 7 for CRC-21. The FD
//     CRCs (polynomials 0x1685B and 0x102899, initial value 1 followed by
//     zeros) cover SOF..data including the dynamic stuff bits, and the stuff
//     count field without its fixed stuff bits.
//   - every frame then ends with CRC delimiter, ACK slot, ACK delimiter, 7
//     EOF bits and the 3-bit intermission (IFS).
//
// Timing: with BRS, the bits from ESI to the last CRC bit (including the
// stuff bits among them) run at the data bit rate; BRS and the CRC delimiter
// are counted at the nominal rate (the real switch happens at their sample
// points, a fraction of a bit that is not modelled). Without BRS every bit
// runs at the nominal rate. Error frames, overload frames and bus-idle
// synchronisation are not part of a frame's bitstream.
type Bits struct {
	// Stream holds one byte per wire bit (0 dominant, 1 recessive) from SOF
	// to the end of the intermission.
	Stream []byte
	// Nominal and Data count the bits sent at the nominal and at the data
	// bit rate; Nominal+Data == len(Stream).
	Nominal, Data int
	// Stuff is the number of dynamic stuff bits; FixedStuff the number of
	// fixed stuff bits (CAN FD only).
	Stuff, FixedStuff int
	// CRC is the CRC sequence of the frame (15, 17 or 21 bits).
	CRC uint32
	// Tail is the number of bits after the receivers accept the frame (the
	// IFS): a receiver gets the frame Tail bit times before the bus is free.
	Tail int
}

// Total returns the number of bits of the frame on the wire.
func (b Bits) Total() int { return b.Nominal + b.Data }

// Duration returns how long the frame occupies the bus at the given nominal
// and data bit rates (bit/s); dataRate <= 0 means the nominal rate.
func (b Bits) Duration(nominalRate, dataRate int) time.Duration {
	if dataRate <= 0 {
		dataRate = nominalRate
	}
	return bitTime(b.Nominal, nominalRate) + bitTime(b.Data, dataRate)
}

func bitTime(bits, rate int) time.Duration {
	if bits == 0 || rate <= 0 {
		return 0
	}
	return time.Duration(int64(bits) * int64(time.Second) / int64(rate))
}

// bitWriter builds a stuffed bitstream.
type bitWriter struct {
	out       []byte
	keep      bool // keep the stream in out (FrameBits); FrameTiming only counts
	n         int  // bits emitted
	prev      byte // the last bit emitted
	nom, data int  // bits emitted at the nominal and at the data bit rate
	inData    bool // bits appended now are in the data phase
	last      byte
	run       int
	stuff     int
	fixed     int
	crc       uint32
	crcBits   uint
	crcPoly   uint32
	crcOn     bool
	// FD: CRC-17 and CRC-21 both run until the length picks one
	crc17, crc21 uint32
	fd           bool
}

func (w *bitWriter) emit(bit byte) {
	if w.keep {
		w.out = append(w.out, bit)
	}
	w.n++
	w.prev = bit
	if w.inData {
		w.data++
	} else {
		w.nom++
	}
}

func (w *bitWriter) crcIn(bit byte) {
	if w.fd {
		b17 := (w.crc17>>16)&1 ^ uint32(bit)
		w.crc17 = (w.crc17 << 1) & 0x1ffff
		if b17 != 0 {
			w.crc17 ^= 0x1685b
		}
		b21 := (w.crc21>>20)&1 ^ uint32(bit)
		w.crc21 = (w.crc21 << 1) & 0x1fffff
		if b21 != 0 {
			w.crc21 ^= 0x102899
		}
		return
	}
	b15 := (w.crc>>14)&1 ^ uint32(bit)
	w.crc = (w.crc << 1) & 0x7fff
	if b15 != 0 {
		w.crc ^= 0x4599
	}
}

// put appends a bit that is covered by dynamic stuffing. crc says whether
// the bit enters the CRC; stuff whether a stuff bit may follow it.
func (w *bitWriter) put(bit byte, crc, stuff bool) {
	w.emit(bit)
	if crc {
		w.crcIn(bit)
	}
	if w.n == 1 || bit != w.last {
		w.last, w.run = bit, 1
	} else {
		w.run++
	}
	if stuff && w.run == 5 {
		s := bit ^ 1
		w.emit(s)
		w.stuff++
		if w.fd && crc {
			w.crcIn(s) // ISO CAN FD: dynamic stuff bits enter the CRC
		}
		w.last, w.run = s, 1
	}
}

func (w *bitWriter) putN(v uint32, n int, crc, stuff bool) {
	for i := n - 1; i >= 0; i-- {
		w.put(byte(v>>uint(i))&1, crc, stuff)
	}
}

// plain appends bits that are not stuffed and not in the CRC.
func (w *bitWriter) plain(bit byte, n int) {
	for range n {
		w.emit(bit)
	}
}

// fixedStuff appends a fixed stuff bit (complement of the previous bit).
func (w *bitWriter) fixedStuff() {
	b := w.prev ^ 1
	w.emit(b)
	w.fixed++
}

// FrameBits computes the wire bitstream of f (see Bits). It does not
// validate f; invalid lengths are clamped to what the format can carry.
func FrameBits(f can.Frame) Bits {
	return frameBits(f, true)
}

// FrameTiming is FrameBits without the Stream: the bit counts, CRC and
// Tail of f, computed the same way without allocating (the timed bus
// calls it for every frame it sends).
func FrameTiming(f can.Frame) Bits {
	if !f.FD {
		return classicTiming(f)
	}
	return frameBits(f, false)
}

// crc15Table is the CRC-15 (0x4599) of each byte, for classicTiming.
var crc15Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint32(i) << 7
		for range 8 {
			crc <<= 1
			if crc&0x8000 != 0 {
				crc ^= 0x4599
			}
		}
		t[i] = uint16(crc & 0x7fff)
	}
	return t
}()

// stuffTable is the dynamic stuffing of a byte of the bitstream, MSB
// first, as a state machine: the state is the last bit on the wire (stuff
// bits included) and the length of its run, 1 to 4 (a run of 5 is
// followed by a stuff bit, which starts a run of 1 of the complement); the
// entry is the state after the byte (low 3 bits) and the number of stuff
// bits it took (above).
var stuffTable = func() (t [8][256]uint8) {
	for st := range 8 {
		for v := range 256 {
			s, n := uint8(st), uint8(0)
			for i := 7; i >= 0; i-- {
				var stuffed bool
				s, stuffed = stuffStep(s, byte(v>>uint(i))&1)
				if stuffed {
					n++
				}
			}
			t[st][v] = s | n<<3
		}
	}
	return t
}()

// stuffStep moves the stuffing state (see stuffTable) by one bit; it
// reports whether a stuff bit follows the bit.
func stuffStep(s uint8, bit byte) (uint8, bool) {
	last, run := s>>2, s&3+1
	if bit == last {
		run++
	} else {
		last, run = bit, 1
	}
	if run == 5 {
		return (bit^1)<<2 | 0, true
	}
	return last<<2 | (run - 1), false
}

// stuffCounter counts the dynamic stuff bits of a bitstream fed to it in
// pieces of up to 32 bits: whole bytes through stuffTable, the rest bit by
// bit. Its zero value is the state before SOF (a recessive idle bus: SOF
// starts a run).
type stuffCounter struct {
	state uint8 // stuffTable state
	acc   uint64
	nacc  uint
	stuff int
}

func newStuffCounter() stuffCounter { return stuffCounter{state: 1 << 2} }

func (c *stuffCounter) put(v uint32, k uint) {
	c.acc = c.acc<<k | uint64(v)&(1<<k-1)
	c.nacc += k
	for c.nacc >= 8 {
		c.nacc -= 8
		e := stuffTable[c.state][byte(c.acc>>c.nacc)]
		c.state, c.stuff = e&7, c.stuff+int(e>>3)
	}
}

// flush feeds the bits left over and returns the stuff count.
func (c *stuffCounter) flush() int {
	for c.nacc > 0 {
		c.nacc--
		var stuffed bool
		if c.state, stuffed = stuffStep(c.state, byte(c.acc>>c.nacc)&1); stuffed {
			c.stuff++
		}
	}
	return c.stuff
}

// classicTiming is FrameTiming for a classic frame: the same bits as
// frameBits, counted a byte at a time. The CRC-15 runs over the header
// padded with leading zeros to whole bytes (a CRC with a zero initial value
// does not change over leading zeros), then the data bytes, by table; the
// stuff bits are counted by the stuffing state machine, a byte at a time.
func classicTiming(f can.Frame) Bits {
	l := min(int(f.Len), can.MaxClassicLen)
	dlc := uint32(can.LenToDLC(l))
	if f.Len <= 8 {
		dlc = uint32(f.Len)
	}
	rtr := uint32(0)
	if f.Remote {
		rtr = 1
	}
	// the header from SOF to the DLC as one number (SOF is the leading 0)
	var hdr uint64
	var hbits uint
	if f.Extended {
		hdr = uint64(f.ID>>18)<<27 | 3<<25 | uint64(f.ID&0x3ffff)<<7 | uint64(rtr<<2)<<4 | uint64(dlc)
		hbits = 39
	} else {
		hdr = uint64(f.ID&can.MaxStdID)<<7 | uint64(rtr<<2)<<4 | uint64(dlc)
		hbits = 19
	}
	var crc uint32
	for i := int((hbits+7)/8) - 1; i >= 0; i-- {
		d := byte(hdr >> (8 * uint(i)))
		crc = (crc<<8)&0x7fff ^ uint32(crc15Table[byte(crc>>7)^d])
	}
	sc := newStuffCounter()
	if hbits > 32 {
		sc.put(uint32(hdr>>32), hbits-32)
		sc.put(uint32(hdr), 32)
	} else {
		sc.put(uint32(hdr), hbits)
	}
	n := int(hbits)
	if !f.Remote {
		for i := range l {
			d := f.Data[i]
			crc = (crc<<8)&0x7fff ^ uint32(crc15Table[byte(crc>>7)^d])
			sc.put(uint32(d), 8)
		}
		n += 8 * l
	}
	sc.put(crc, 15)
	n += 15
	stuff := sc.flush()
	return Bits{Nominal: n + stuff + 13, Stuff: stuff, CRC: crc, Tail: 3}
}

func frameBits(f can.Frame, keep bool) Bits {
	w := bitWriter{fd: f.FD, keep: keep}
	if keep {
		w.out = make([]byte, 0, 160)
	}
	if f.FD {
		w.crc17, w.crc21 = 1<<16, 1<<20
	}
	n := int(f.Len)
	if f.FD {
		n = can.FDPadLen(min(n, can.MaxFDLen))
	} else if n > can.MaxClassicLen {
		n = can.MaxClassicLen
	}
	dlc := uint32(can.LenToDLC(n))
	if !f.FD && f.Len <= 8 {
		dlc = uint32(f.Len)
	}
	hasData := !f.Remote && n > 0
	w.put(0, true, true) // SOF
	if f.Extended {
		w.putN(f.ID>>18, 11, true, true)
		w.put(1, true, true) // SRR
		w.put(1, true, true) // IDE
		w.putN(f.ID&0x3ffff, 18, true, true)
	} else {
		w.putN(f.ID&can.MaxStdID, 11, true, true)
	}
	if f.FD {
		w.put(0, true, true) // RRS
		if !f.Extended {
			w.put(0, true, true) // IDE
		}
		w.put(1, true, true) // FDF
		w.put(0, true, true) // res
		brs := byte(0)
		if f.BRS {
			brs = 1
		}
		w.put(brs, true, true)
		w.inData = f.BRS
		esi := byte(0)
		if f.ESI {
			esi = 1
		}
		w.put(esi, true, true)
		w.putN(dlc>>1, 3, true, true)
		w.put(byte(dlc&1), true, hasData)
		for i := range n {
			for bit := 7; bit >= 0; bit-- {
				last := i == n-1 && bit == 0
				w.put((f.Data[i]>>uint(bit))&1, true, !last)
			}
		}
		// stuff count: Gray code of the count mod 8 plus even parity
		g := uint32(w.stuff%8) ^ uint32(w.stuff%8)>>1
		par := (g ^ g>>1 ^ g>>2) & 1
		sc := g<<1 | par
		w.fixedStuff()
		for i := 3; i >= 0; i-- {
			b := byte(sc>>uint(i)) & 1
			w.emit(b)
			w.crcIn(b)
		}
		crcLen := 17
		crc := w.crc17
		if n > 16 {
			crcLen, crc = 21, w.crc21
		}
		w.crc = crc
		for i := crcLen - 1; i >= 0; i-- {
			if (crcLen-1-i)%4 == 0 {
				w.fixedStuff()
			}
			w.emit(byte(crc>>uint(i)) & 1)
		}
		w.inData = false
	} else {
		rtr := byte(0)
		if f.Remote {
			rtr = 1
		}
		w.put(rtr, true, true)
		if !f.Extended {
			w.put(0, true, true) // IDE
		} else {
			w.put(0, true, true) // r1
		}
		w.put(0, true, true) // r0
		w.putN(dlc, 4, true, true)
		if hasData {
			for i := range n {
				w.putN(uint32(f.Data[i]), 8, true, true)
			}
		}
		crc := w.crc
		for i := 14; i >= 0; i-- {
			w.put(byte(crc>>uint(i))&1, false, true)
		}
		w.crc = crc
	}
	w.plain(1, 1) // CRC delimiter
	w.plain(0, 1) // ACK slot (driven dominant by the receivers)
	w.plain(1, 1) // ACK delimiter
	w.plain(1, 7) // EOF
	w.plain(1, 3) // intermission
	return Bits{Stream: w.out, Nominal: w.nom, Data: w.data, Stuff: w.stuff, FixedStuff: w.fixed, CRC: w.crc, Tail: 3}
}
