package scenarios

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// CompatibilitySetup declares the dependencies and conflicts of one image of
// the campaigns (docs/director-api.md, "Dependencies and conflicts"): the
// image of hardware Hardware, release Release.
type CompatibilitySetup struct {
	Hardware  string             `yaml:"hardware"`
	Release   uint64             `yaml:"release"`
	Requires  []RequirementSetup `yaml:"requires"`
	Conflicts []string           `yaml:"conflicts"` // image names
}

// RequirementSetup: every ECU of hardware Hardware must run release
// MinRelease or later.
type RequirementSetup struct {
	Hardware   string `yaml:"hardware"`
	MinRelease uint64 `yaml:"min_release"`
}

func (s *Scenario) validateCompatibility() error {
	for i, c := range s.Setup.Compatibility {
		f := fmt.Sprintf("setup.compatibility[%d]", i)
		switch {
		case c.Hardware == "":
			return s.Errorf(f+".hardware", "missing: the hardware identifier of the image")
		case c.Release == 0:
			return s.Errorf(f+".release", "missing: the release counter of the image")
		case len(c.Requires) == 0 && len(c.Conflicts) == 0:
			return s.Errorf(f, "declares neither requires nor conflicts")
		}
		for j, r := range c.Requires {
			if r.Hardware == "" || r.MinRelease == 0 {
				return s.Errorf(fmt.Sprintf("%s.requires[%d]", f, j), "needs a hardware and a min_release")
			}
		}
		for j, n := range c.Conflicts {
			if err := meta.ValidTargetName(n); err != nil {
				return s.Errorf(fmt.Sprintf("%s.conflicts[%d]", f, j), "%v", err)
			}
		}
	}
	return nil
}

// compatibility is the vehicle's hook declaring the setup's dependencies and
// conflicts on the images campaigns publish.
func (s *Scenario) compatibility() func(hwid string, rc uint64) *meta.Compatibility {
	if len(s.Setup.Compatibility) == 0 {
		return nil
	}
	return func(hwid string, rc uint64) *meta.Compatibility {
		for _, c := range s.Setup.Compatibility {
			if c.Hardware != hwid || c.Release != rc {
				continue
			}
			out := &meta.Compatibility{Conflicts: append([]string(nil), c.Conflicts...)}
			for _, r := range c.Requires {
				out.Requires = append(out.Requires, meta.Requirement{HardwareID: r.Hardware, MinRelease: r.MinRelease})
			}
			return out
		}
		return nil
	}
}
