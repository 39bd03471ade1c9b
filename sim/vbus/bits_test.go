package vbus_test

import (
	"math/rand/v2"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// destuffClassic walks a classic frame's stream, checks the stuffing rule
// and returns the bits from SOF to the end of the CRC without stuff bits.
func destuffClassic(stream []byte, unstuffedLen int) []byte {
	GinkgoHelper()
	var out []byte
	run, last := 0, byte(2)
	i := 0
	for len(out) < unstuffedLen {
		b := stream[i]
		i++
		out = append(out, b)
		if b == last {
			run++
		} else {
			last, run = b, 1
		}
		Expect(run).To(BeNumerically("<=", 5), "six equal bits at %d", i)
		if run == 5 {
			s := stream[i]
			i++
			Expect(s).To(Equal(last^1), "stuff bit at %d", i-1)
			last, run = s, 1
		}
	}
	// the remaining bits are delimiter, ACK, EOF, IFS
	Expect(stream[i:]).To(Equal([]byte{1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}))
	return out
}

func bitsOf(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := range n {
		out[i] = byte(v>>uint(n-1-i)) & 1
	}
	return out
}

// polyRemainder divides the bit sequence by the generator (long division).
func polyRemainder(bits []byte, poly uint32, width int) uint32 {
	var reg uint32
	for _, b := range bits {
		top := (reg >> uint(width-1)) & 1
		reg = (reg << 1) & (1<<uint(width) - 1)
		if top^uint32(b) != 0 {
			reg ^= poly
		}
	}
	return reg
}

var _ = Describe("Frame bitstream", func() {
	It("counts the bits of the shortest classic frame, with its six stuff bits", func() {
		b := vbus.FrameBits(can.New(0, nil))
		// 19 zero header bits + 15 zero CRC bits: a stuff bit after every
		// 5 equal bits (the stuff bit starts the next run): 6 stuff bits.
		Expect(b.Stuff).To(Equal(6))
		Expect(b.Total()).To(Equal(34 + 6 + 13))
		Expect(b.Duration(500_000, 0)).To(Equal(53 * 2 * time.Microsecond))
	})

	It("lays out classic frames field by field, stuffed, with a CRC-15 that divides", func() {
		r := rand.New(rand.NewPCG(1, 2))
		for range 500 {
			var f can.Frame
			f.Extended = r.IntN(2) == 0
			if f.Extended {
				f.ID = r.Uint32N(can.MaxExtID + 1)
			} else {
				f.ID = r.Uint32N(can.MaxStdID + 1)
			}
			f.Remote = r.IntN(8) == 0
			f.Len = uint8(r.IntN(9))
			// runs of equal bytes exercise stuffing
			fill := []byte{0, 0xff, byte(r.Uint32())}[r.IntN(3)]
			for i := range f.Len {
				f.Data[i] = fill
				if r.IntN(4) == 0 {
					f.Data[i] = byte(r.Uint32())
				}
			}
			var hdr []byte
			hdr = append(hdr, 0)
			rtr := byte(0)
			if f.Remote {
				rtr = 1
			}
			if f.Extended {
				hdr = append(hdr, bitsOf(uint64(f.ID>>18), 11)...)
				hdr = append(hdr, 1, 1)
				hdr = append(hdr, bitsOf(uint64(f.ID&0x3ffff), 18)...)
				hdr = append(hdr, rtr, 0, 0)
			} else {
				hdr = append(hdr, bitsOf(uint64(f.ID), 11)...)
				hdr = append(hdr, rtr, 0, 0)
			}
			hdr = append(hdr, bitsOf(uint64(f.Len), 4)...)
			if !f.Remote {
				for i := range f.Len {
					hdr = append(hdr, bitsOf(uint64(f.Data[i]), 8)...)
				}
			}
			b := vbus.FrameBits(f)
			got := destuffClassic(b.Stream, len(hdr)+15)
			Expect(got[:len(hdr)]).To(Equal(hdr), "frame %s", f)
			Expect(polyRemainder(got, 0x4599, 15)).To(BeZero(), "CRC of %s", f)
			Expect(b.Total()).To(Equal(len(hdr) + 15 + b.Stuff + 13))
			Expect(b.Data).To(BeZero())
		}
	})

	It("gives CAN FD frames a Gray-coded stuff count and 6 or 7 fixed stuff bits", func() {
		for _, n := range []int{0, 1, 8, 12, 16, 20, 32, 64} {
			f := can.Frame{ID: 0x123, FD: true, Len: uint8(n)}
			b := vbus.FrameBits(f)
			want := 6
			if n > 16 {
				want = 7
			}
			Expect(b.FixedStuff).To(Equal(want), "len %d", n)
		}
	})

	It("keeps the fixed stuff bits of the FD CRC field complementary", func() {
		r := rand.New(rand.NewPCG(3, 4))
		for range 200 {
			f := can.Frame{ID: r.Uint32N(can.MaxStdID + 1), FD: true, BRS: r.IntN(2) == 0}
			f.Len = uint8([]int{0, 4, 8, 12, 16, 24, 48, 64}[r.IntN(8)])
			for i := range f.Len {
				f.Data[i] = byte(r.Uint32())
			}
			b := vbus.FrameBits(f)
			crcLen := 17
			if f.Len > 16 {
				crcLen = 21
			}
			// the frame ends: [FSB SC(4) FSB CRC...] delimiter ACK ACKdel EOF IFS
			tail := 13
			field := b.Stream[len(b.Stream)-tail-(4+crcLen+b.FixedStuff) : len(b.Stream)-tail]
			// fixed stuff bits sit at 0, 5, 10, ...: each complements the bit before it
			start := len(b.Stream) - tail - len(field)
			for i := 0; i < len(field); i += 5 {
				Expect(field[i]).To(Equal(b.Stream[start+i-1]^1), "fixed stuff bit %d of %s", i/5, f)
			}
			// the stuff count field: Gray code of (stuff mod 8) and even parity
			sc := field[1:5]
			g := (b.Stuff % 8) ^ (b.Stuff%8)>>1
			Expect([]byte{sc[0], sc[1], sc[2]}).To(Equal(bitsOf(uint64(g), 3)))
			Expect((sc[0] + sc[1] + sc[2] + sc[3]) % 2).To(BeZero())
			// data phase: everything from ESI to the end of the CRC
			if f.BRS {
				Expect(b.Data).To(BeNumerically(">", 8*int(f.Len)+4+crcLen))
			} else {
				Expect(b.Data).To(BeZero())
			}
		}
	})

	It("times BRS frames with the data bit rate between ESI and the CRC delimiter", func() {
		f := can.Frame{ID: 0x10, FD: true, BRS: true, Len: 64}
		b := vbus.FrameBits(f)
		want := time.Duration(b.Nominal)*2*time.Microsecond + time.Duration(b.Data)*500*time.Nanosecond
		Expect(b.Duration(500_000, 2_000_000)).To(Equal(want))
		Expect(b.Nominal).To(BeNumerically("<", 40))
		noBRS := vbus.FrameBits(can.Frame{ID: 0x10, FD: true, Len: 64})
		Expect(noBRS.Data).To(BeZero())
		Expect(noBRS.Duration(500_000, 2_000_000)).To(BeNumerically(">", b.Duration(500_000, 2_000_000)))
	})
})

var _ = Describe("FrameTiming", func() {
	It("gives FrameBits's counts, CRC and tail without the stream, for random classic, extended, remote and FD frames", func() {
		rng := rand.New(rand.NewPCG(11, 12))
		for i := range 20000 {
			f := can.Frame{ID: rng.Uint32N(can.MaxStdID + 1)}
			if rng.IntN(2) == 0 {
				f.ID, f.Extended = rng.Uint32N(1<<29), true
			}
			switch rng.IntN(4) {
			case 0:
				f.Remote, f.Len = true, uint8(rng.IntN(9))
			case 1:
				f.FD, f.BRS, f.ESI = true, rng.IntN(2) == 0, rng.IntN(2) == 0
				f.Len = uint8(can.FDPadLen(rng.IntN(can.MaxFDLen + 1)))
			default:
				f.Len = uint8(rng.IntN(9))
			}
			for j := range int(f.Len) {
				switch rng.IntN(3) { // long runs of equal bits: stuffing
				case 0:
					f.Data[j] = 0
				case 1:
					f.Data[j] = 0xff
				default:
					f.Data[j] = byte(rng.Uint32())
				}
			}
			if rng.IntN(4) == 0 {
				f.ID &= 0x7f0 // and in the identifier
			}
			full, t := vbus.FrameBits(f), vbus.FrameTiming(f)
			Expect(t.Stream).To(BeNil())
			full.Stream = nil
			Expect(t).To(Equal(full), "frame %d: %s", i, f)
		}
	})
})
