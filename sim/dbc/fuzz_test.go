package dbc_test

import (
	"errors"
	"os"
	"testing"

	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// FuzzParse: any input either loads, with every message packable and
// decodable, or fails with a positioned *dbc.Error; it never panics.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../rigs/dbc/powertrain.dbc", "../../rigs/dbc/body.dbc"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("BU_: A\nBO_ 1 M: 8 A\n SG_ S : 7|64@0- (1,0) [0|0] \"\" A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := dbc.Parse("fuzz.dbc", data)
		if err != nil {
			var de *dbc.Error
			if !errors.As(err, &de) {
				t.Fatalf("error is not a *dbc.Error: %v", err)
			}
			return
		}
		for _, m := range db.Messages {
			raw := m.StartValues()
			f := m.Frame(raw)
			if err := f.Validate(); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			got := m.Decode(&f)
			for i, s := range m.Signals {
				if s.Length < 64 && got[i] != raw[i] {
					t.Fatalf("%s.%s: packed %d, decoded %d", m.Name, s.Name, raw[i], got[i])
				}
			}
		}
	})
}
