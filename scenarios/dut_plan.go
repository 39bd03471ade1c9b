package scenarios

// Planning a scenario against a device under test that keeps its state
// (issue 10, item 4): which scenarios can be played on it soundly, the
// release counters relative to what it runs, and the harness's clock that
// only moves forward across scenarios and runs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/rigs"
)

// unsoundItem is one thing a scenario may ask for that cannot be played on a
// DUT that keeps its state, with the reason it is not applicable.
type unsoundItem struct {
	needs  func(s *Scenario) string // "" when the scenario does not need it, else where it asks
	reason string
}

// unsoundOnDUT lists what makes a scenario not applicable to a device under test
// beyond its defence (ForDUT): a DUT is never reset to the factory, and the
// backend it trusts persists in the state directory, keys and all.
var unsoundOnDUT = []unsoundItem{
	{func(s *Scenario) string {
		for i, st := range s.Steps {
			if a := st.Attack; a != nil && a.MITM != nil && strings.HasPrefix(a.MITM.With, "recorded:") {
				return fmt.Sprintf("steps[%d].attack.mitm.with: %s", i, a.MITM.With)
			}
		}
		return ""
	}, "needs the Primary to hand on a recorded metadata file in place of another version (mix and match), and a forwarding Primary hands each file on under the version it carries: the DUT never sees the mix"},
	{func(s *Scenario) string {
		if len(s.Setup.BeforeFactory) > 0 {
			return "setup.before_factory"
		}
		return ""
	}, "needs a factory-fresh ECU: it provisions the ECU with the metadata of releases assigned before it left the factory, and a DUT keeps its state"},
	{func(s *Scenario) string {
		kt := s.Setup.KeyTypes
		if kt.Director != "" || kt.Image != "" || len(kt.ECUs) > 0 {
			return "setup.key_types"
		}
		return ""
	}, "needs repositories or ECUs that sign with other key types, which would re-key the persistent backend (and the ECU) the DUT trusts"},
	{func(s *Scenario) string {
		if len(s.Setup.Image.Roles) > 0 || len(s.Setup.Image.Delegations) > 0 {
			return "setup.image"
		}
		return ""
	}, "needs an Image repository with other roles, keys or delegations, which would re-key the persistent backend the DUT trusts"},
	{func(s *Scenario) string {
		if s.Setup.Release > 1 {
			return "setup.release"
		}
		return ""
	}, "needs factory images of another release than the one the DUT runs"},
	{func(s *Scenario) string {
		if s.Goal.ServedOver > 0 {
			return "goal.served_over"
		}
		return ""
	}, "is judged by what the man in the middle served on the Primary's backend link, which a DUT never sees (a forwarding Primary downloads it all)"},
}

// Unsound says why the scenario cannot be played soundly on any device
// under test that keeps its state ("" when it can): the first of
// unsoundOnDUT it needs, and where it asks for it.
func (s *Scenario) Unsound() string {
	for _, u := range unsoundOnDUT {
		if where := u.needs(s); where != "" {
			return fmt.Sprintf("%s (%s)", u.reason, where)
		}
	}
	return ""
}

// The paths an attack takes to a device under test (DUTPath).
const (
	PathPrimary = "through the forwarding Primary"
	PathBus     = "bus attacker node"
	PathNone    = "not applicable"
	// PathPower: a power cut by the rig's power: supply of the DUT, at a
	// point of the Primary's session (power_dut.go).
	PathPower = "the rig's power: supply"
)

// DUTPath says how the scenario's attack reaches a device under test
// (docs/scenarios.md, "On a device under test"): through the forwarding
// Primary (attacks on the backend link and with compromised repository
// keys), from an attacker node on the DUT's bus, or not at all (not
// applicable to either kind of Secondary, with the reason when the
// scenario cannot be played on a DUT that keeps its state).
func (s *Scenario) DUTPath() (string, error) {
	if why := s.Unsound(); why != "" {
		return PathNone + ": " + why, nil
	}
	if why := s.judgesPrimary(nil); why != "" {
		return PathNone + ": " + strings.TrimPrefix(why, "the scenario "), nil
	}
	any := false
	for _, v := range []string{rigs.Full, rigs.Partial} {
		a, err := s.ForDUT(v)
		if err != nil {
			return "", err
		}
		any = any || a.Applicable
	}
	switch {
	case !any:
		return PathNone, nil
	case s.Transport == "bus":
		return PathBus, nil
	case len(s.PowerLoss()) > 0:
		return PathPower, nil
	}
	return PathPrimary, nil
}

// OnDUT is the applicability of the scenario to the rig's ECU e as the
// device under test, played in the place of the Secondary it judges
// (InPlaceOf): ForDUT (its defence must be the DUT's own), then the
// scenario's needs a DUT that keeps its state cannot meet (unsoundOnDUT).
// It does not see the rig: OnRig also says when the rig lacks an ECU the
// scenario needs besides the DUT (a bench with one ECU and a bundle of two).
func (s *Scenario) OnDUT(e *rigs.ECU) (Applicability, error) {
	a, err := s.ForDUT(e.Profile)
	if err != nil || !a.Applicable {
		return a, err
	}
	if why := s.Unsound(); why != "" {
		return Applicability{DUT: a.DUT, Reason: s.Name + " " + why}, nil
	}
	if !slices.Contains(s.ECUs, e.ID) {
		if why := s.judgesPrimary(nil); why != "" {
			return Applicability{DUT: a.DUT, Reason: s.Name + ": " + why}, nil
		}
	}
	if why := s.powerOnDUT(e); why != "" {
		return Applicability{DUT: a.DUT, Reason: why}, nil
	}
	return a, nil
}

// OnRig is the scenario as it is played with rig r's ECU e as the device
// under test (InPlaceOf: e in the place of the Secondary it judges; nil
// when it cannot be played on r so) and its applicability: OnDUT of that
// scenario, and not applicable when r lacks an ECU it needs.
func (s *Scenario) OnRig(r *rigs.Rig, e *rigs.ECU) (*Scenario, Applicability, error) {
	rs, lacks, err := s.InPlaceOf(r, e)
	if err != nil {
		return nil, Applicability{}, err
	}
	if lacks != "" {
		rs = nil
	}
	played := s
	if rs != nil {
		played = rs
	}
	a, err := played.OnDUT(e)
	if err != nil || !a.Applicable {
		return rs, a, err
	}
	if why := s.otherProfile(r, e); why != "" {
		return nil, Applicability{DUT: a.DUT, Reason: s.Name + ": " + why}, nil
	}
	if lacks != "" {
		return nil, Applicability{DUT: a.DUT, Reason: s.Name + ": " + lacks}, nil
	}
	return rs, a, nil
}

// twinOf is the scenario the DUT's twin plays for its control: the one
// the DUT plays (OnRig), else, when it cannot be played with the DUT in
// the judged ECU's place, the scenario itself if rig r has every ECU it
// names (nil when it has not: there is no control to play).
func (s *Scenario) twinOf(r *rigs.Rig, e *rigs.ECU) (*Scenario, Applicability, error) {
	rs, a, err := s.OnRig(r, e)
	if err != nil || rs != nil {
		return rs, a, err
	}
	if lacking(s, r) == "" {
		return s, a, nil
	}
	return nil, a, nil
}

func contains(list []string, x string) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

// imageRelease matches the release counter in an image name
// (vehicle.ImageName).
var imageRelease = regexp.MustCompile(`firmware-r([0-9]+)\.bin`)

// directorVersion matches a versioned Director metadata file name in a
// man in the middle's file pattern or substitution ("3\.snapshot\.json$",
// "recorded:2.snapshot.json").
var directorVersion = regexp.MustCompile(`([0-9]+)(\\?\.)(root|targets|snapshot|timestamp)(\\?\.json)`)

// shifted returns a copy of the scenario planned for a backend and a DUT
// that are not fresh: release r becomes r+delta in campaigns, in image
// names, in substitutions and goals ("release 1" is what the DUT runs
// now), and version n of a Director role named in a man in the middle's
// file or substitution becomes n+versions[role] (version 1 is the
// Director's current one).
func (s *Scenario) shifted(delta uint64, versions map[string]int64) *Scenario {
	c := *s
	up := func(r uint64) uint64 {
		if r == 0 {
			return 0
		}
		return r + delta
	}
	rel := func(v string) string {
		if n, ok := strings.CutPrefix(v, "release:"); ok {
			if r, err := strconv.ParseUint(n, 10, 64); err == nil {
				return "release:" + strconv.FormatUint(up(r), 10)
			}
		}
		return v
	}
	name := func(v string) string {
		return imageRelease.ReplaceAllStringFunc(v, func(m string) string {
			r, _ := strconv.ParseUint(imageRelease.FindStringSubmatch(m)[1], 10, 64)
			return "firmware-r" + strconv.FormatUint(up(r), 10) + ".bin"
		})
	}
	version := func(v string) string {
		return directorVersion.ReplaceAllStringFunc(v, func(x string) string {
			m := directorVersion.FindStringSubmatch(x)
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return strconv.FormatInt(n+versions[m[3]], 10) + m[2] + m[3] + m[4]
		})
	}
	c.Steps = make([]Step, len(s.Steps))
	for i, st := range s.Steps {
		if st.Campaign != nil {
			x := *st.Campaign
			x.Release = up(x.Release)
			st.Campaign = &x
		}
		if st.Publish != nil {
			x := *st.Publish
			x.Image, x.Name, x.Release = name(x.Image), name(x.Name), up(x.Release)
			st.Publish = &x
		}
		if st.Attack != nil && st.Attack.MITM != nil {
			a, m := *st.Attack, *st.Attack.MITM
			m.With = rel(m.With)
			if m.Repo == "director" {
				m.File, m.With = version(m.File), version(m.With)
			}
			a.MITM = &m
			st.Attack = &a
		}
		c.Steps[i] = st
	}
	c.Goal.Installed, c.Goal.NotInstalled = rel(s.Goal.Installed), rel(s.Goal.NotInstalled)
	c.ExpectInstalled = rel(s.ExpectInstalled)
	c.Setup.Compatibility = make([]CompatibilitySetup, len(s.Setup.Compatibility))
	for i, cs := range s.Setup.Compatibility {
		cs.Release = up(cs.Release)
		cs.Requires = append([]RequirementSetup(nil), cs.Requires...)
		for j := range cs.Requires {
			cs.Requires[j].MinRelease = up(cs.Requires[j].MinRelease)
		}
		cs.Conflicts = append([]string(nil), cs.Conflicts...)
		for j := range cs.Conflicts {
			cs.Conflicts[j] = name(cs.Conflicts[j])
		}
		c.Setup.Compatibility[i] = cs
	}
	return &c
}

// clockState is what the harness keeps about its clock in the state
// directory: how far advance steps have moved it ahead of the wall clock,
// so the time it attests to a DUT only moves forward across scenarios and
// runs.
type clockState struct {
	// Offset is added to the wall clock (nanoseconds in JSON).
	Offset time.Duration `json:"offset"`
	// Latest is the latest time the harness has written (attested) so
	// far; the next run starts no earlier.
	Latest time.Time `json:"latest"`
}

func clockFile(state string) string { return filepath.Join(state, "dut-clock.json") }

func loadClock(state string) (clockState, error) {
	var c clockState
	b, err := os.ReadFile(clockFile(state))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("scenarios: the DUT's clock state: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("scenarios: the DUT's clock state %s: %w (remove it to start the clock afresh; the DUT refuses times before the latest it attested)", clockFile(state), err)
	}
	return c, nil
}

func saveClock(state string, c clockState) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("scenarios: %w", err)
	}
	return atomicfile.Write(clockFile(state), append(b, '\n'), 0o600)
}

// otherProfile says why the scenario is not played in the place of the
// Secondaries it judges when none of them verifies as the DUT does ("" when
// one does, or it judges the DUT or every Secondary): its steps are written
// for their profile (a bus session forged for a full-verification ECU is
// not one a partial-verification ECU expects), and a whole-suite run of both
// conformant DUTs showed such plays failing for that reason, not for a
// missing defence.
func (s *Scenario) otherProfile(r *rigs.Rig, e *rigs.ECU) string {
	if len(s.ECUs) == 0 || slices.Contains(s.ECUs, e.ID) || e.Profile == "" {
		return ""
	}
	for _, id := range s.ECUs {
		if x := ecuOf(r, id); x != nil && x.Role == rigs.Secondary && x.Profile == e.Profile {
			return ""
		}
	}
	return fmt.Sprintf("the scenario judges %s, none with %s verification like the DUT; playing it in their place is not modelled", strings.Join(s.ECUs, ", "), e.Profile)
}
