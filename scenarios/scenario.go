// Package scenarios reads attack scenario files (scenarios/*.yaml, format in
// docs/scenarios.md) and runs them against a rig. Each scenario runs twice
// per judged ECU: against the conformant profile, where the attack must be
// defended, and against a control profile that lacks exactly the defence
// the scenario targets, where the attack must succeed — so the suite is
// known to be able to fail.
package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/yamlx"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

// Scenario is one parsed scenario file.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Attack      string   `yaml:"attack"`    // a check.Attack, e.g. "freeze"
	Standard    []string `yaml:"standard"`  // section anchors it exercises
	Transport   string   `yaml:"transport"` // "backend-link", "bus", "keys" or "power"
	ECUs        []string `yaml:"ecus"`      // the ECUs whose outcome is judged (default: every Secondary)
	// Defence lists the checks the control profile lacks.
	Defence []check.ID `yaml:"defence"`
	// Statements names the Standard's statements (uptane/std IDs such as
	// "verify_metadata#2") the scenario proves beyond those its defence
	// checks implement (check.Statements); see StatementIDs.
	Statements []std.ID `yaml:"statements"`
	Setup      Setup    `yaml:"setup"`
	Steps      []Step   `yaml:"steps"`
	Goal       Goal     `yaml:"goal"`
	// Detected is the check the conformant ECUs must report (optional; any
	// of Defence when empty).
	Detected check.ID `yaml:"detected"`
	// ExpectInstalled: every run, conformant and control, must end with
	// each judged ECU on this image ("release:N"): a defence that delays an
	// update must not deny it (preconditions.go).
	ExpectInstalled string `yaml:"expect_installed"`
	// OutOfModel, when set, says why no ECU defence can stop this attack
	// (outside the threat model the checks answer): the scenario has no
	// defence and no control run, and its verdict is a finding, never a
	// defence (preconditions.go).
	OutOfModel string `yaml:"out_of_model"`

	File string `yaml:"-"`
	doc  *yamlx.Doc
}

// Setup is the state before the first step.
type Setup struct {
	Release uint64 `yaml:"release"` // release counter of the factory images (default 1)
	// Image shapes the Image repository: keys and thresholds of its
	// top-level roles, supplier delegations (keys.go).
	Image ImageSetup `yaml:"image"`
	// Compatibility declares dependencies and conflicts of the images the
	// campaigns publish (compat.go).
	Compatibility []CompatibilitySetup `yaml:"compatibility"`
	// BeforeFactory: releases the OEM published and the Director assigned
	// to the judged ECUs before the vehicle left the factory, in order
	// (factory.go). The ECUs are provisioned with the metadata as it stands
	// after the last; the attacker read the vehicle's Director metadata
	// after each (a replay step can serve it).
	BeforeFactory []uint64 `yaml:"before_factory"`
	// KeyTypes picks what the repositories and chosen ECUs sign with
	// (keytypes.go); default: the rig's key types.
	KeyTypes KeyTypesSetup `yaml:"key_types"`
}

// Step is one action; exactly one field is set.
type Step struct {
	Campaign  *Campaign     `yaml:"campaign"`   // assign images and run one update cycle
	Cycle     *Cycle        `yaml:"cycle"`      // run one update cycle, no new assignment
	Attack    *AttackStep   `yaml:"attack"`     // switch an attack on
	AttackOff string        `yaml:"attack_off"` // switch an attack off by name
	Advance   time.Duration `yaml:"advance"`    // time travel on the run's clock
	Rotate    *Rotate       `yaml:"rotate"`     // rotate a role's key in Root (revokes it)
	Publish   *Publish      `yaml:"publish"`    // the attacker publishes metadata with keys it holds
	// Signal changes a signal the bus's rest-bus sends from now on
	// (signal.go); ExpectSignal reads it on the bus.
	Signal       *SignalStep `yaml:"signal"`
	ExpectSignal *SignalStep `yaml:"expect_signal"`
	// PowerCut cuts a Secondary's power in the next update cycle (power.go).
	PowerCut *PowerCut `yaml:"power_cut"`
}

// Campaign makes the Image repository publish release Release of each
// judged ECU's image and the Director assign it, then runs an update cycle.
type Campaign struct {
	Release uint64   `yaml:"release"`
	ECUs    []string `yaml:"ecus"` // default: the judged ECUs
	// AssignOnly publishes and assigns without the update cycle: the
	// vehicle has not fetched the campaign yet.
	AssignOnly bool `yaml:"assign_only"`
}

// Cycle runs one update cycle.
type Cycle struct{}

// AttackStep switches on one attack.
type AttackStep struct {
	Name string `yaml:"name"`
	// MITM tampers with the repository link.
	MITM *MITM `yaml:"mitm"`
	// Compromise hands the attacker a key.
	Compromise *Compromise `yaml:"compromise"`
	// Bus attacks the vehicle network.
	Bus *BusAttack `yaml:"bus"`
	// Manifest sends the Director a vehicle manifest the attacker replays
	// or forges (with an ECU key it holds).
	Manifest *ManifestAttack `yaml:"manifest"`
	// Eavesdrop records a bus (eavesdrop.go).
	Eavesdrop *EavesdropAttack `yaml:"eavesdrop"`
}

// ManifestAttack sends the Director a manifest.
type ManifestAttack struct {
	// Action: "replay" re-sends the Index-th manifest the attacker
	// recorded; "forge" re-signs the latest one with the Primary key the
	// attacker holds, claiming ECU has a malicious image installed.
	Action string `yaml:"action"`
	Index  int    `yaml:"index"`
	ECU    string `yaml:"ecu"`
}

// MITM is a man-in-the-middle rule (attacks/mitm).
type MITM struct {
	Repo   string `yaml:"repo"` // director, image or time (the time server)
	File   string `yaml:"file"` // regexp on the file name, e.g. 'timestamp\.json$'
	Action string `yaml:"action"`
	// replay: the Index-th recorded response (0 = oldest)
	Index int `yaml:"index"`
	// slow: bytes per interval
	Chunk    int           `yaml:"chunk"`
	Interval time.Duration `yaml:"interval"`
	// truncate: bytes kept; endless: bytes sent (0: endless)
	Bytes int64 `yaml:"bytes"`
	// status: the HTTP status
	Status int `yaml:"status"`
	// substitute: what to substitute — "malicious-image", "release:N"
	// (the file as it was at release N), "unsigned", "oversized"
	With string `yaml:"with"`
}

// Compromise hands the attacker one role's key (or an ECU's).
type Compromise struct {
	Repo string `yaml:"repo"` // director, image, or ecu
	Role string `yaml:"role"` // targets, snapshot, timestamp, root, a delegated role, or an ECU id
	// Key picks one key of a role with several (threshold), by index.
	Key int `yaml:"key"`
}

// BusAttack is an attack on the vehicle network.
type BusAttack struct {
	Bus    string `yaml:"bus"`
	Action string `yaml:"action"` // forge-metadata, forge-image, trickle-image, spoof-report, replay-report, replay-session, flood
	Target string `yaml:"target"` // the ECU attacked
	Rate   int    `yaml:"rate"`   // flood: requests per second
	// For: a flood lasts this long from its start (0: until attack_off).
	For time.Duration `yaml:"for"`
	// trickle-image: blocks of Chunk bytes, Interval apart
	Chunk    int           `yaml:"chunk"`
	Interval time.Duration `yaml:"interval"`
	// Ahead: write-time writes the run's current time plus this.
	Ahead time.Duration `yaml:"ahead"`
	// Spoof-signal: the message, signal and value the attacker's copies
	// carry (preconditions.go).
	Message string `yaml:"message"`
	Signal  string `yaml:"signal"`
	Value   string `yaml:"value"`
}

// Rotate rotates the keys of a role in Root: a new Root version signed by
// the old and new thresholds revokes the old key.
type Rotate struct {
	Repo string `yaml:"repo"`
	Role string `yaml:"role"`
}

// Publish makes the attacker sign and serve metadata with the keys it holds.
type Publish struct {
	Repo string `yaml:"repo"` // director or image
	// Image: "malicious" directs the ECU to a malicious image; "target:NAME"
	// to an image of the Image repository that is wrong for it (or one the
	// attacker published there itself). On the image repository only
	// "malicious".
	Image string `yaml:"image"`
	ECU   string `yaml:"ecu"`
	// Rollback: a fresh timestamp pointing at the oldest snapshot recorded.
	Rollback bool `yaml:"rollback"`
	// RollbackTargets: a fresh snapshot (and timestamp) listing the oldest
	// Director targets recorded.
	RollbackTargets bool `yaml:"rollback_targets"`
	// Image repository only (keys.go): the targets role the attacker signs
	// with ("targets" or a delegated role; default targets), the target name
	// of the malicious image, and its release counter (default: one above
	// the ECU's installed release).
	Role    string `yaml:"role"`
	Name    string `yaml:"name"`
	Release uint64 `yaml:"release"`
}

// Goal is what the attacker wants; observed "compromised" means it holds
// for a judged ECU at the end.
type Goal struct {
	// Installed: the ECU ends on this image: "malicious" (bytes that are not
	// a release of its own firmware) or "release:N".
	Installed string `yaml:"installed"`
	// Undetected: no check error was reported for the ECU (a freeze or
	// drop-request went unnoticed: the vehicle believes it is current).
	Undetected bool `yaml:"undetected"`
	// NotInstalled: the ECU does not end on this image.
	NotInstalled string `yaml:"not_installed"`
	// DirectorAccepts: the Director recorded a forged or replayed version
	// report of the ECU as genuine: "forged" (a malicious image), "replayed"
	// (an earlier report), "spoofed" (an installed image the ECU does not
	// run).
	DirectorAccepts string `yaml:"director_accepts"`
	// SlowerThan: an update cycle under attack lasted longer than this (a
	// slow retrieval or drop-request that held the vehicle up).
	SlowerThan time.Duration `yaml:"slower_than"`
	// ServedOver: the vehicle consumed more than this many bytes of the
	// attacker's responses (endless data).
	ServedOver int64 `yaml:"served_over"`
	// Starved: a request flood left requests to the ECU unanswered: its
	// processor could not keep up (a bus flood attack).
	Starved bool `yaml:"starved"`
	// LeakedOver: the eavesdropper recovered more than this many bytes of
	// the plaintext of the image the Director assigned the ECU.
	LeakedOver int `yaml:"leaked_over"`
	// UnsafeProgramming: the ECU took image data or installed while the
	// vehicle's true state (what its genuine nodes sent) broke its
	// programming preconditions (preconditions.go).
	UnsafeProgramming bool `yaml:"unsafe_programming"`
	// Bricked: after a power cut (a power_cut step) the ECU booted no whole
	// image (a mix of old and new bytes, or nothing it can boot), did not
	// answer on the bus, or did not install its assignment in a later cycle.
	Bricked bool `yaml:"bricked"`
}

var (
	nameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	imageRe = regexp.MustCompile(`^(malicious|release:[0-9]+)$`)
)

// Load reads one scenario file.
func Load(path string) (*Scenario, error) {
	var s Scenario
	doc, err := yamlx.ReadFile(path, &s)
	if err != nil {
		return nil, err
	}
	s.File, s.doc = path, doc
	return &s, s.validate()
}

// Parse validates scenario data named file.
func Parse(file string, data []byte) (*Scenario, error) {
	var s Scenario
	doc, err := yamlx.Decode(file, data, &s)
	if err != nil {
		return nil, err
	}
	s.File, s.doc = file, doc
	return &s, s.validate()
}

// LoadAll reads scenario files and folders (every *.yaml in a folder, in
// name order). Names must be unique.
func LoadAll(paths ...string) ([]*Scenario, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("scenarios: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		m, err := filepath.Glob(filepath.Join(p, "*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("scenarios: %s: %w", p, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("scenarios: folder %s holds no scenario file (*.yaml)", p)
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	var out []*Scenario
	seen := map[string]string{}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.Name]; dup {
			return nil, s.doc.Errorf("name", "scenario %q is also defined in %s", s.Name, prev)
		}
		seen[s.Name] = f
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scenarios: no scenario files in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

// Errorf returns an error located at a field of the scenario file.
func (s *Scenario) Errorf(field, format string, args ...any) error {
	return s.doc.Errorf(field, format, args...)
}

func (s *Scenario) validate() error {
	if !nameRe.MatchString(s.Name) {
		return s.Errorf("name", "%q: use 2-63 lower-case letters, digits and -", s.Name)
	}
	if strings.TrimSpace(s.Description) == "" {
		return s.Errorf("description", "missing: say what the attacker does, in a sentence or two")
	}
	known := false
	for _, c := range check.All {
		known = known || string(c.Attack) == s.Attack
	}
	if !known {
		return s.Errorf("attack", "%q is not an attack of the threat model (see uptane/check)", s.Attack)
	}
	if len(s.Standard) == 0 {
		return s.Errorf("standard", "missing: the Standard's section anchors the scenario exercises")
	}
	for i, a := range s.Standard {
		if !regexp.MustCompile(`^[a-z_]+$`).MatchString(a) {
			return s.Errorf(fmt.Sprintf("standard[%d]", i), "%q is not a section anchor like check_timestamp", a)
		}
	}
	switch s.Transport {
	case "backend-link", "bus", "keys", "power":
	case "":
		return s.Errorf("transport", "missing: one of backend-link, bus, keys, power")
	default:
		return s.Errorf("transport", "%q is not one of backend-link, bus, keys, power", s.Transport)
	}
	if len(s.Defence) == 0 && s.OutOfModel == "" {
		return s.Errorf("defence", "missing: the checks the control profile lacks (a scenario with no control cannot show the suite can fail)")
	}
	for i, id := range s.Statements {
		if !std.Known(id) {
			return s.Errorf(fmt.Sprintf("statements[%d]", i), "%q is no statement of the Standard (uptane-hil trace lists them)", id)
		}
	}
	if s.Setup.Release == 0 {
		s.Setup.Release = 1
	}
	for i, rc := range s.Setup.BeforeFactory {
		if rc <= s.Setup.Release {
			return s.Errorf(fmt.Sprintf("setup.before_factory[%d]", i), "release %d: a release published before the factory must be above the factory images' release %d", rc, s.Setup.Release)
		}
	}
	if err := s.validateImageSetup(); err != nil {
		return err
	}
	if err := s.validateCompatibility(); err != nil {
		return err
	}
	if err := s.validateKeyTypes(); err != nil {
		return err
	}
	if len(s.Steps) == 0 {
		return s.Errorf("steps", "missing: a scenario needs at least one step")
	}
	attacks := map[string]bool{}
	for i := range s.Steps {
		if err := s.validateStep(i, attacks); err != nil {
			return err
		}
	}
	g := s.Goal
	if g.Installed == "" && !g.Undetected && g.NotInstalled == "" && g.DirectorAccepts == "" && g.SlowerThan == 0 && g.ServedOver == 0 && g.LeakedOver == 0 && !g.Starved && !g.Bricked && !g.UnsafeProgramming {
		return s.Errorf("goal", "missing: what the attacker wants (installed, undetected, not_installed, director_accepts, slower_than, served_over, leaked_over, starved, bricked, unsafe_programming)")
	}
	if err := s.validatePreconditions(); err != nil {
		return err
	}
	if err := s.validatePowerGoal(); err != nil {
		return err
	}
	if g.LeakedOver < 0 {
		return s.Errorf("goal.leaked_over", "%d: a number of bytes, 0 or more", g.LeakedOver)
	}
	if err := s.validateEavesdrop(); err != nil {
		return err
	}
	if g.DirectorAccepts != "" && g.DirectorAccepts != "replayed" && g.DirectorAccepts != "forged" && g.DirectorAccepts != "spoofed" {
		return s.Errorf("goal.director_accepts", "%q is not replayed, forged or spoofed", g.DirectorAccepts)
	}
	if g.Starved && !s.floods() {
		return s.Errorf("goal.starved", "only a bus flood attack (bus: {action: flood}) can starve an ECU")
	}
	for f, v := range map[string]string{"goal.installed": g.Installed, "goal.not_installed": g.NotInstalled} {
		if v != "" && !imageRe.MatchString(v) {
			return s.Errorf(f, "%q is not malicious or release:N", v)
		}
	}
	return nil
}

func (s *Scenario) validateStep(i int, attacks map[string]bool) error {
	st := s.Steps[i]
	f := fmt.Sprintf("steps[%d]", i)
	set := 0
	for _, on := range []bool{st.Campaign != nil, st.Cycle != nil, st.Attack != nil, st.AttackOff != "", st.Advance != 0, st.Rotate != nil, st.Publish != nil, st.Signal != nil, st.ExpectSignal != nil, st.PowerCut != nil} {
		if on {
			set++
		}
	}
	if set != 1 {
		return s.Errorf(f, "a step is exactly one of campaign, cycle, attack, attack_off, advance, rotate, publish, signal, expect_signal, power_cut (found %d)", set)
	}
	if err := s.validatePowerCut(f, i); err != nil {
		return err
	}
	if err := s.validateSignalStep(f, st); err != nil {
		return err
	}
	switch {
	case st.Campaign != nil && st.Campaign.Release == 0:
		return s.Errorf(f+".campaign.release", "missing: the release counter to publish and assign")
	case st.Advance < 0:
		return s.Errorf(f+".advance", "time travels forward only")
	case st.AttackOff != "" && !attacks[st.AttackOff]:
		return s.Errorf(f+".attack_off", "no attack named %q was switched on before", st.AttackOff)
	case st.Attack != nil:
		a := st.Attack
		if !nameRe.MatchString(a.Name) {
			return s.Errorf(f+".attack.name", "%q: name the attack (lower-case, digits, -)", a.Name)
		}
		n := 0
		for _, on := range []bool{a.MITM != nil, a.Compromise != nil, a.Bus != nil, a.Manifest != nil, a.Eavesdrop != nil} {
			if on {
				n++
			}
		}
		if n != 1 {
			return s.Errorf(f+".attack", "an attack is exactly one of mitm, compromise, bus, manifest, eavesdrop")
		}
		if e := a.Eavesdrop; e != nil && e.Bus == "" {
			return s.Errorf(f+".attack.eavesdrop.bus", "missing: the bus to record (a bus of the rig)")
		}
		if m := a.MITM; m != nil {
			if m.Repo != "director" && m.Repo != "image" && m.Repo != "time" {
				return s.Errorf(f+".attack.mitm.repo", "%q is not director, image or time", m.Repo)
			}
			if _, err := regexp.Compile(m.File); err != nil || m.File == "" {
				return s.Errorf(f+".attack.mitm.file", "%q is not a regular expression on file names", m.File)
			}
			switch m.Action {
			case "replay", "truncate", "slow", "drop", "endless", "status", "substitute":
			default:
				return s.Errorf(f+".attack.mitm.action", "%q is not one of replay, substitute, truncate, slow, drop, endless, status", m.Action)
			}
		}
		if m := a.Manifest; m != nil && m.Action != "replay" && (m.Action != "forge" || m.ECU == "") {
			return s.Errorf(f+".attack.manifest", "action is replay, or forge with the ecu to lie about")
		}
		if c := a.Compromise; c != nil && c.Repo != "director" && c.Repo != "image" && c.Repo != "ecu" {
			return s.Errorf(f+".attack.compromise.repo", "%q is not director, image or ecu", c.Repo)
		}
		if b := a.Bus; b != nil {
			switch b.Action {
			case "forge-metadata", "forge-image", "trickle-image", "spoof-report", "record-report", "replay-report", "replay-session", "flood", "write-time", "replay-old-metadata", "spoof-signal":
			default:
				return s.Errorf(f+".attack.bus.action", "%q is not one of forge-metadata, forge-image, trickle-image, spoof-report, record-report, replay-report, replay-session, flood, write-time, replay-old-metadata, spoof-signal", b.Action)
			}
			switch {
			case b.Bus == "":
				return s.Errorf(f+".attack.bus.bus", "missing: the rig's bus the attacker is on")
			case b.Target == "":
				return s.Errorf(f+".attack.bus.target", "missing: the Secondary attacked")
			case b.Action == "flood" && (b.Rate <= 0 || b.Rate > MaxFloodRate):
				return s.Errorf(f+".attack.bus.rate", "%d: a flood needs a rate of 1..%d requests per second", b.Rate, MaxFloodRate)
			case b.Action != "flood" && b.Rate != 0:
				return s.Errorf(f+".attack.bus.rate", "only a flood has a rate")
			case b.For < 0:
				return s.Errorf(f+".attack.bus.for", "%s: a flood's duration is positive (or 0: until attack_off)", b.For)
			case b.Action != "flood" && b.For != 0:
				return s.Errorf(f+".attack.bus.for", "only a flood has a duration")
			case b.Action == "trickle-image" && (b.Chunk <= 0 || b.Chunk > 4093 || b.Interval <= 0):
				return s.Errorf(f+".attack.bus.chunk", "a trickle needs a chunk of 1..4093 bytes and a positive interval")
			case b.Action != "trickle-image" && (b.Chunk != 0 || b.Interval != 0):
				return s.Errorf(f+".attack.bus.chunk", "only a trickle has a chunk and an interval")
			case b.Action == "write-time" && b.Ahead <= 0:
				return s.Errorf(f+".attack.bus.ahead", "missing: how far ahead of the run's time to write (e.g. 438000h, 50 years)")
			case b.Action != "write-time" && b.Ahead != 0:
				return s.Errorf(f+".attack.bus.ahead", "only write-time has ahead")
			}
		}
		attacks[a.Name] = true
	case st.Publish != nil:
		return s.validatePublish(f+".publish", st.Publish)
	case st.Rotate != nil && st.Rotate.Repo != "director" && st.Rotate.Repo != "image":
		return s.Errorf(f+".rotate.repo", "%q is not director or image", st.Rotate.Repo)
	}
	return nil
}

// MaxFloodRate bounds a flood's requests per second: more single frames
// than a 1 Mbit/s classic CAN bus carries make no sense.
const MaxFloodRate = 10000

// floods reports whether a step floods the bus.
func (s *Scenario) floods() bool {
	for _, st := range s.Steps {
		if st.Attack != nil && st.Attack.Bus != nil && st.Attack.Bus.Action == "flood" {
			return true
		}
	}
	return false
}

// Profile returns the control profile: conformant minus the defence.
func (s *Scenario) Profile() check.Profile {
	return check.Without(s.Defence...)
}
