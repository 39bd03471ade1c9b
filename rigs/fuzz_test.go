package rigs_test

import (
	"os"
	"strings"
	"testing"

	"github.com/uptane-hil/uptane-hil/rigs"
)

// FuzzParse feeds the rig parser arbitrary YAML: it never panics, and a rig
// it accepts keeps the invariants the rest of uptane-hil relies on (one
// Primary, a power entry with commands, a bounded timeout and known cut
// points, at most one device under test).
func FuzzParse(f *testing.F) {
	for _, name := range []string{"virtual.yaml", "vcan.yaml", "bench-example.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		s := string(b)
		f.Add([]byte(strings.Replace(s, "    role: secondary\n", "    role: secondary\n    power: {off: 'x', on: 'y', timeout: 3s, cut_at: [reset]}\n", 1)))
		f.Add([]byte(strings.Replace(s, "    role: secondary\n", "    role: secondary\n    process: external\n    dut: true\n", 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := rigs.Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("an error that does not name the file: %v", err)
			}
			return
		}
		if r.Primary() == nil {
			t.Fatal("accepted a rig without a Primary")
		}
		duts := 0
		for i := range r.ECUs {
			e := &r.ECUs[i]
			if e.DUT {
				duts++
			}
			if p := e.Power; p != nil {
				if strings.TrimSpace(p.Off) == "" || strings.TrimSpace(p.On) == "" || p.Timeout <= 0 || p.Timeout > rigs.MaxPowerTimeout || len(p.CutAt) == 0 {
					t.Fatalf("accepted power %+v of %s", *p, e.ID)
				}
				for _, c := range p.CutAt {
					if !p.Cuts(c) || (c != rigs.CutTransfer && c != rigs.CutInstall && c != rigs.CutReset) {
						t.Fatalf("accepted cut point %q of %s", c, e.ID)
					}
				}
			}
		}
		if duts > 1 {
			t.Fatalf("accepted %d devices under test", duts)
		}
	})
}
