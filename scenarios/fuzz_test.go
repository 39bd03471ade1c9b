package scenarios_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
)

// FuzzParse feeds the scenario parser every scenario file of the suite and
// mutations of them: it never panics, and what it accepts holds what
// validation promises (a named scenario with steps and a defence; a
// power_cut names an ECU and a known phase and is followed by a cycle; the
// bricked goal comes with a power cut).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(powerLoss))
	f.Add([]byte(strings.Replace(powerLoss, "at: install", "at: reset", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := scenarios.Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.Name == "" || len(s.Steps) == 0 || len(s.Defence) == 0 && s.OutOfModel == "" {
			t.Fatalf("accepted a scenario without name, steps or defence (or out_of_model): %+v", s)
		}
		if s.OutOfModel != "" && len(s.Defence) > 0 {
			t.Fatalf("accepted a scenario out of the model with a defence: %+v", s)
		}
		cuts := s.PowerLoss()
		for _, pc := range cuts {
			if pc.ECU == "" || !slices.Contains(rigs.PowerPoints, pc.At) {
				t.Fatalf("accepted power_cut %+v", pc)
			}
		}
		if s.Goal.Bricked && len(cuts) == 0 {
			t.Fatal("accepted goal bricked without a power_cut")
		}
		for i, st := range s.Steps {
			if st.PowerCut == nil {
				continue
			}
			follows := false
			for _, n := range s.Steps[i+1:] {
				if n.Cycle != nil || (n.Campaign != nil && !n.Campaign.AssignOnly) {
					follows = true
					break
				}
			}
			if !follows {
				t.Fatalf("accepted steps[%d].power_cut with no cycle after it", i)
			}
		}
	})
}
