package isotp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// fuzzMaxRx is the receive limit in FuzzReassembly.
const fuzzMaxRx = 2000

// script turns fuzz input into receiver stimuli. Byte 0 configures the
// receiver (bit 0 extended addressing, bit 1 CAN FD, bits 2-3 block size);
// then come operations, each a type byte (mod 5) and its arguments:
//
//	0 raw frame: len byte (bit 7 FD, rest mod 9 or the FD length), data
//	1 time: k, the clock advances k*5 ms and N_Cr is checked
//	2 CF: sn, len byte, payload
//	3 FF: hi, lo (12-bit FF_DL; 0,0 then 4 bytes: escape), len byte, payload
//	4 SF: SF_DL, len byte, payload
//
// Missing bytes read as zero. Frames of types 2-4 carry the receiver's
// address byte under extended addressing; raw frames carry anything.
type script struct {
	in []byte
	i  int
}

func (s *script) next() byte {
	if s.i >= len(s.in) {
		s.i++
		return 0
	}
	b := s.in[s.i]
	s.i++
	return b
}

func (s *script) more() bool { return s.i < len(s.in) }

// frameLen reads a length byte: bit 7 asks for CAN FD.
func (s *script) frameLen() (int, bool) {
	b := s.next()
	if b&0x80 != 0 {
		return can.FDPadLen(int(b&0x7f) % 65), true
	}
	return int(b&0x7f) % 9, false
}

// fill builds a frame of length n whose bytes from `from` on come from the
// script.
func (s *script) fill(f *can.Frame, n, from int) {
	f.Len = uint8(n)
	for k := from; k < n; k++ {
		f.Data[k] = s.next()
	}
}

// checkDelivery verifies that msg, delivered while the receiver handled
// frames[j], is made of bytes that arrived on the channel in order: the
// payload of the single frame j, or the payload of a first frame announcing
// len(msg) followed by consecutive frames with sequence numbers 1, 2, ...
// (a subsequence of the frames after it, the last being frame j). It is
// written independently of the receiver.
func checkDelivery(frames []can.Frame, j int, msg []byte, ae int, addr byte) error {
	ours := func(d []byte) bool { return len(d) > ae && (ae == 0 || d[0] == addr) }
	last := frames[j].Data[:frames[j].Len]
	if !ours(last) {
		return fmt.Errorf("delivered at frame %d, which is not on our channel", j)
	}
	switch last[ae] >> 4 {
	case 0:
		var want []byte
		if len(last) <= 8 {
			n := int(last[ae] & 0xf)
			if ae+1+n > len(last) {
				return fmt.Errorf("SF %d too short", j)
			}
			want = last[ae+1 : ae+1+n]
		} else {
			n := int(last[ae+1])
			if ae+2+n > len(last) {
				return fmt.Errorf("SF %d too short", j)
			}
			want = last[ae+2 : ae+2+n]
		}
		if !bytes.Equal(want, msg) {
			return fmt.Errorf("message %x is not the payload %x of SF %d", msg, want, j)
		}
		return nil
	case 2:
	default:
		return fmt.Errorf("delivered at frame %d, neither SF nor CF", j)
	}
	for i := j - 1; i >= 0; i-- {
		ff := frames[i].Data[:frames[i].Len]
		if !ours(ff) || ff[ae]>>4 != 1 || len(ff) < ae+2 {
			continue
		}
		ffdl, off := int(ff[ae]&0xf)<<8|int(ff[ae+1]), ae+2
		if ffdl == 0 {
			if len(ff) < ae+6 {
				continue
			}
			ffdl, off = int(binary.BigEndian.Uint32(ff[ae+2:])), ae+6
		}
		if ffdl != len(msg) || len(ff)-off > len(msg) || !bytes.Equal(ff[off:], msg[:len(ff)-off]) {
			continue
		}
		per := len(ff) - ae - 1
		pos, sn, k := len(ff)-off, 1, i+1
		ok := true
		for pos < len(msg) && ok {
			take := min(per, len(msg)-pos)
			lastChunk := pos+take == len(msg)
			found := false
			for ; k <= j; k++ {
				if lastChunk && k != j {
					continue
				}
				if !lastChunk && k == j {
					break
				}
				c := frames[k].Data[:frames[k].Len]
				if ours(c) && c[ae] == byte(0x20|sn&0xf) && len(c) >= ae+1+take &&
					bytes.Equal(c[ae+1:ae+1+take], msg[pos:pos+take]) {
					found = true
					k++
					break
				}
			}
			ok = found
			pos += take
			sn++
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%d-byte message delivered at CF %d matches no FF and in-order CFs", len(msg), j)
}

func FuzzReassembly(f *testing.F) {
	// seeds: valid transfers and small corruptions of them
	ff20 := []byte{3, 0, 20, 8, 0, 1, 2, 3, 4, 5}
	cf := func(sn byte, p ...byte) []byte { return append([]byte{2, sn, 8}, p...) }
	valid := append([]byte{0}, ff20...)
	valid = append(valid, cf(1, 6, 7, 8, 9, 10, 11, 12)...)
	valid = append(valid, cf(2, 13, 14, 15, 16, 17, 18, 19)...)
	f.Add(valid)
	f.Add(append(append([]byte{0}, ff20...), cf(2, 6, 7, 8, 9, 10, 11, 12)...))
	f.Add(append(append([]byte{4}, ff20...), append(cf(1, 1, 2, 3, 4, 5, 6, 7), 1, 250)...))
	f.Add([]byte{1, 4, 3, 3, 0xf1, 1, 2})
	f.Add([]byte{2, 3, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xc0})
	f.Add([]byte{2, 4, 40, 0xc0, 0, 0, 0, 1, 2, 3})
	f.Fuzz(runFuzzOne)
}

func runFuzzOne(t *testing.T, in []byte) {
	{
		if len(in) == 0 {
			return
		}
		s := &script{in: in, i: 1}
		cfg := in[0]
		ae := int(cfg & 1)
		const addr = 0xf1
		var (
			frames []can.Frame
			cur    = -1
			now    = clock.Epoch
			fcs    int
		)
		r := &receiver{ae: ae, addr: addr, fd: cfg&2 != 0, maxRx: fuzzMaxRx, bs: (cfg >> 2) & 3,
			nCr: time.Second, rxID: 0x7e0}
		r.sendFC = func(byte) error { fcs++; return nil }
		r.full = func() bool { return false }
		r.onFC = func(*can.Frame, int) {}
		r.deliver = func(msg []byte, e *Error) bool {
			if e != nil {
				if e.Kind != KindTimeout && e.Kind != KindProtocol && e.Kind != KindOverflow {
					t.Fatalf("unexpected error kind %s: %v", e.Kind, e)
				}
				return true
			}
			if cur < 0 {
				t.Fatalf("a %d-byte message delivered by a timer", len(msg))
			}
			if len(msg) == 0 || len(msg) > fuzzMaxRx {
				t.Fatalf("delivered %d bytes (limit %d)", len(msg), fuzzMaxRx)
			}
			if err := checkDelivery(frames, cur, msg, ae, addr); err != nil {
				t.Fatal(err)
			}
			return true
		}
		for s.more() {
			var fr can.Frame
			fr.ID = 0x7e0
			op := s.next() % 5
			if op == 1 {
				now = now.Add(time.Duration(s.next()) * 5 * time.Millisecond)
				cur = -1
				r.expire(now)
				continue
			}
			if ae == 1 {
				fr.Data[0] = addr
			}
			switch op {
			case 0:
				n, fd := s.frameLen()
				fr.FD = fd
				s.fill(&fr, n, 0)
			case 2:
				sn := s.next() & 0xf
				n, fd := s.frameLen()
				fr.FD = fd
				fr.Data[ae] = 0x20 | sn
				s.fill(&fr, max(n, ae+1), ae+1)
			case 3:
				hi, lo := s.next(), s.next()
				fr.Data[ae], fr.Data[ae+1] = 0x10|hi&0xf, lo
				from := ae + 2
				if hi&0xf == 0 && lo == 0 {
					for k := range 4 {
						fr.Data[ae+2+k] = s.next()
					}
					from = ae + 6
				}
				n, fd := s.frameLen()
				fr.FD = fd
				s.fill(&fr, max(n, from), from)
			case 4:
				sfdl := s.next()
				n, fd := s.frameLen()
				fr.FD = fd
				from := ae + 1
				if n > 8 {
					fr.Data[ae], fr.Data[ae+1] = 0, sfdl
					from = ae + 2
				} else {
					fr.Data[ae] = sfdl & 0xf
				}
				s.fill(&fr, max(n, from), from)
			}
			if fr.FD && !can.ValidFDLen(int(fr.Len)) {
				fr.Len = uint8(can.FDPadLen(int(fr.Len)))
			}
			if !fr.FD && fr.Len > 8 {
				fr.FD = true
				fr.Len = uint8(can.FDPadLen(int(fr.Len)))
			}
			frames = append(frames, fr)
			cur = len(frames) - 1
			r.handle(&frames[cur], now)
			if cap(r.buf) > fuzzMaxRx {
				t.Fatalf("receive buffer of %d bytes exceeds the %d-byte limit", cap(r.buf), fuzzMaxRx)
			}
			if fcs > len(frames) {
				t.Fatalf("%d flow control frames for %d frames received", fcs, len(frames))
			}
		}
	}
}
