package capture_test

import (
	"strings"
	"testing"

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
