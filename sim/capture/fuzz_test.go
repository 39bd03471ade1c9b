package capture_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
)

// FuzzParseCandumpLog: the parser never panics, what it accepts is a valid
// frame, and formatting then parsing again gives the same records.
func FuzzParseCandumpLog(f *testing.F) {
	for _, s := range []string{
		"(1700000000.123456) vcan0 123#DEADBEEF\n",
		"(1700000000.123456) vcan0 18DAF110#021003\n(1.000000) x 055#R3\n",
		"(1700000000.400000) vcan0 7E0##1000102030405060708090A0B\n",
		"(1700000000.800000) vcan0 20000008#0000000800000000\n",
		"(1700000000.700000) vcan0 123#11.22.33.44.55.66.77.88_F\r\n",
		"(1.1) a 1#",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := capture.ParseCandumpLog(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "capture: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
		}
		var out strings.Builder
		for _, r := range recs {
			if !r.Error {
				if verr := r.Frame.Validate(); verr != nil {
					t.Fatalf("parser accepted an invalid frame %v: %v", r.Frame, verr)
				}
			}
			out.WriteString(capture.FormatCandump(r) + "\n")
		}
		again, err := capture.ParseCandumpLog(strings.NewReader(out.String()))
		if err != nil {
			t.Fatalf("formatted log does not parse: %v\n%s", err, out.String())
		}
		if len(again) != len(recs) {
			t.Fatalf("round trip: %d records, then %d", len(recs), len(again))
		}
		for i := range recs {
			if !again[i].Time.Equal(recs[i].Time) || again[i].Frame != recs[i].Frame || again[i].Iface != recs[i].Iface || again[i].Error != recs[i].Error {
				t.Fatalf("round trip of record %d: %+v became %+v", i, recs[i], again[i])
			}
		}
	})
}

// FuzzFormatCandump: the fmt-free formatter writes exactly the line the
// fmt-based one (kept here as the reference) writes, for any frame, time
// and flags.
func FuzzFormatCandump(f *testing.F) {
	f.Add(int64(1700000000), int64(123456789), uint32(0x123), false, false, false, false, false, false, uint8(4), []byte{0xde, 0xad, 0xbe, 0xef}, "vcan0")
	f.Add(int64(-5), int64(1), uint32(0x18DAF110), true, false, true, true, true, false, uint8(64), make([]byte, 64), "")
	f.Add(int64(0), int64(999999999), uint32(0x55), false, true, false, false, false, false, uint8(3), []byte{}, "x")
	f.Add(int64(1), int64(0), uint32(0x8), false, false, false, false, false, true, uint8(8), []byte{1, 2, 3, 4, 5, 6, 7, 8}, "can1")
	f.Fuzz(func(t *testing.T, sec, nsec int64, id uint32, ext, remote, fd, brs, esi, isErr bool, n uint8, data []byte, iface string) {
		r := capture.Record{Time: time.Unix(sec, nsec%1e9), Iface: iface, Error: isErr}
		r.Frame = can.Frame{ID: id, Extended: ext, Remote: remote, FD: fd, BRS: brs, ESI: esi, Len: n % (can.MaxFDLen + 1)}
		copy(r.Frame.Data[:], data)
		if got, want := capture.FormatCandump(r), referenceCandump(r); got != want {
			t.Fatalf("FormatCandump(%+v) = %q, want %q", r, got, want)
		}
	})
}

// referenceCandump is FormatCandump as it was written with fmt.
func referenceCandump(r capture.Record) string {
	t := r.Time
	iface := r.Iface
	if iface == "" {
		iface = "can0"
	}
	var frame string
	if r.Error {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%08X#", r.Frame.ID&can.MaxExtID|can.ERRFlag)
		for _, b := range r.Frame.Data[:min(int(r.Frame.Len), can.MaxClassicLen)] {
			fmt.Fprintf(&sb, "%02X", b)
		}
		frame = sb.String()
	} else {
		frame = r.Frame.String()
	}
	return fmt.Sprintf("(%d.%06d) %s %s", t.Unix(), t.Nanosecond()/1000, iface, frame)
}

// BenchmarkFormatCandump: a capture formats a line per frame on the bus;
// "fmt" is the formatter as it was (referenceCandump), "append" the one the
// log writer uses now, into a reused buffer.
func BenchmarkFormatCandump(b *testing.B) {
	r := capture.Record{Time: time.Unix(1700000000, 123456000), Iface: "vcan0"}
	r.Frame = can.Frame{ID: 0x7E0, Len: 8, Data: [can.MaxFDLen]byte{0x21, 1, 2, 3, 4, 5, 6, 7}}
	b.Run("fmt", func(b *testing.B) {
		for b.Loop() {
			_ = referenceCandump(r)
		}
	})
	b.Run("append", func(b *testing.B) {
		var line []byte
		for b.Loop() {
			line = capture.AppendCandump(line[:0], r)
		}
	})
}
