// Package reports holds the result of a suite run — every scenario played
// against every judged ECU under the conformant and the control profile — and
// writes it for machines and people: JSON (schema "uptane-hil/report/v1",
// documented in docs/report-schema.md), JUnit XML for CI servers, one
// self-contained HTML file for auditors (overview, the Standard's text,
// message sequence diagrams and bus-load timelines as inline SVG) and an
// aligned text table for the terminal.
//
// A runner fills a Report with Add and closes it with Finish; the writers
// redact private key material (see Redact) before anything leaves the
// process, and refuse to write a report that still contains a PEM private
// key marker.
package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Schema is the version of the report format. A change that removes or
// changes the meaning of a field gets a new version.
const Schema = "uptane-hil/report/v1"

// Verdicts: what happened to an attack (Result.Expected and Result.Observed).
const (
	Defended    = "defended"
	Compromised = "compromised"
	// OutOfModel is the expected verdict of a scenario outside the model
	// (Result.Finding says why no ECU check can stop it): it has no control
	// run, passes when the attack is seen to succeed (the finding
	// reproduces), and is counted as a finding, never as a defence.
	OutOfModel = "out-of-model"
	// Resisted is the observed verdict of a scenario out of the model on
	// a device under test that the attack did not get to its goal (the
	// finding does not reproduce there: an end-to-end check, a
	// cross-check): it passes and is counted apart (Summary.Resisted), a
	// good outcome, never a finding and never a defence of an Uptane
	// check (Detected is empty; Detail says what the device did). Only in
	// SchemaResisted reports.
	Resisted = "resisted"
)

// Kinds of sequence entries (Message.Kind).
const (
	KindHTTP   = "http"   // Primary ↔ repository exchange
	KindUDS    = "uds"    // Primary ↔ Secondary exchange on the bus
	KindAttack = "attack" // an attack was switched on/off or acted
	KindNote   = "note"   // a phase, an outcome, anything worth a line
)

// Participants of a sequence that are not ECUs (Message.From and To).
const (
	Director = "director"
	Image    = "image"
	Attacker = "attacker"
)

// Report is the result of one suite run.
type Report struct {
	Schema string `json:"schema"`
	Tool   Tool   `json:"tool"`
	Rig    Rig    `json:"rig"`
	Seed   uint64 `json:"seed"`
	// Seeds are the seeds of a seed sweep (--seeds): every run played
	// under each; absent for a run under one seed.
	Seeds []uint64 `json:"seeds,omitempty"`
	// Plan identifies the whole suite the runs belong to, Shard the part
	// of it this report holds (absent: all of it). See plan.go.
	Plan     *Plan     `json:"plan,omitempty"`
	Shard    *Shard    `json:"shard,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Results  []Result  `json:"results"`
	// Unstable lists the runs whose verdict differs between the seeds of a
	// sweep, with the seeds that replay each verdict (unstable.go).
	Unstable []Unstable `json:"unstable,omitempty"`
	Summary  Summary    `json:"summary"`
	// Coverage is the Standard coverage of the run (NewCoverage), if the
	// runner supplied it.
	Coverage *Coverage `json:"coverage,omitempty"`
	// DUT is the section on the device under test, when the suite was
	// played against one (dut.go; schema SchemaDUT).
	DUT *DUT `json:"dut,omitempty"`
}

// Tool names the program that produced the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Rig describes the test rig the suite ran on.
type Rig struct {
	Name string `json:"name"`
	// File is the rig file's path as given to the tool.
	File string `json:"file"`
	// Transport is how the buses were realised: "virtual" (the simulated
	// bus), "vcan" (Linux virtual CAN), "socketcan" (real interfaces).
	Transport string `json:"transport"`
	Buses     []Bus  `json:"buses"`
	// Digest is the SHA-256 (hex) of the rig file: shards of one suite
	// must have run on the same rig.
	Digest string `json:"sha256,omitempty"`
}

// Bus is one CAN segment of the rig.
type Bus struct {
	Name        string `json:"name"`
	Interface   string `json:"interface,omitempty"`   // SocketCAN interface, e.g. vcan0
	Bitrate     int    `json:"bitrate,omitempty"`     // nominal bit rate, bit/s
	DataBitrate int    `json:"dataBitrate,omitempty"` // CAN FD data phase, bit/s
	FD          bool   `json:"fd,omitempty"`
}

// Result is the verdict for one scenario on one judged ECU under one
// profile.
type Result struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description"`
	Attack      string `json:"attack"`
	// Standard lists the section anchors of the Uptane Standard the scenario
	// exercises, e.g. ["check_timestamp", "full_verification"].
	Standard []string `json:"standard"`
	// Statements are the IDs of the Standard's normative statements the
	// scenario proves with its control run (uptane/std), e.g.
	// ["check_timestamp#4", "full_verification#7"].
	Statements []string `json:"statements,omitempty"`
	// Transport is where the attack enters: "backend-link", "bus" or "keys".
	Transport string `json:"transport,omitempty"`
	ECU       string `json:"ecu"`
	// Profile is "conformant" or "without:<check>[+<check>...]".
	Profile string `json:"profile"`
	// Seed is the seed the run was played under (`uptane-hil run --seed
	// SEED` replays it).
	Seed uint64 `json:"seed,omitempty"`
	// Control is true for the run with the control profile (the attack must
	// succeed there, proving the suite notices a missing defence).
	Control  bool   `json:"control"`
	Expected string `json:"expected"` // Defended, Compromised, OutOfModel, or NotApplicable (DUT results)
	Observed string `json:"observed"` // Defended, Compromised, or NotApplicable and Resisted (DUT results)
	// Detected is the check ID (or error kind) that stopped the attack, ""
	// if none.
	Detected string `json:"detected"`
	// Detail is the ECU's error text and anything the runner adds.
	Detail string `json:"detail"`
	// Finding, for an out-of-model result: why no ECU check can stop the
	// attack, and what the ECU could and could not tell.
	Finding string `json:"finding,omitempty"`
	// VersionReport is the ECU's last signed version report (raw JSON).
	VersionReport json.RawMessage `json:"versionReport,omitempty"`
	// DirectorRecord is what the Director recorded for the vehicle (raw JSON).
	DirectorRecord json.RawMessage `json:"directorRecord,omitempty"`
	Pass           bool            `json:"pass"`
	// Capture and CandumpLog are paths of the run's bus captures, relative to
	// the report's directory.
	Capture    string `json:"capture,omitempty"`
	CandumpLog string `json:"candumpLog,omitempty"`
	// Duration is the run's simulated time, Wall its wall-clock time, both in
	// milliseconds.
	Duration float64 `json:"duration"`
	Wall     float64 `json:"wall"`
	// Sequence is the message sequence of the run.
	Sequence []Message `json:"sequence,omitempty"`
	// BusLoad is the load timeline of each bus.
	BusLoad []BusLoad `json:"busLoad,omitempty"`
	// Target is what the result judges when the suite is played against a
	// device under test: TargetDUT (the conformant run on the device) or
	// TargetTwin (the control run on its simulated twin); "" for an ECU
	// simulated in the harness (dut.go).
	Target string `json:"target,omitempty"`
	// Applicability says whether the scenario can judge the DUT and by
	// which of its checks, or why not (DUT and twin results).
	Applicability string `json:"applicability,omitempty"`
	// Checks are the checks of the scenario's defence the DUT performs:
	// one of them must report the attack (DUT results).
	Checks []string `json:"checks,omitempty"`
	// Identity is the DUT's identity as read over the bus before the
	// scenario (DUT results).
	Identity *Identity `json:"identity,omitempty"`
}

// Message is one entry of a run's message sequence.
type Message struct {
	T     float64 `json:"t"` // milliseconds since the run started
	From  string  `json:"from,omitempty"`
	To    string  `json:"to,omitempty"`
	Label string  `json:"label"`
	Kind  string  `json:"kind"` // KindHTTP, KindUDS, KindAttack or KindNote
	// Fault is the failure the exchange ended in (a check error, a timeout),
	// "" if none.
	Fault string `json:"fault,omitempty"`
}

// BusLoad is one bus's load timeline.
type BusLoad struct {
	Bus     string       `json:"bus"`
	Samples []LoadSample `json:"samples"`
}

// LoadSample is the load of a bus over one window starting at T.
type LoadSample struct {
	T       float64 `json:"t"`       // milliseconds since the run started
	LoadPct float64 `json:"loadPct"` // 0..100
	// The load by kind of traffic, percent of the bus's capacity (they add
	// up to LoadPct): frames with an identifier of the rest-bus's DBC
	// messages, with an ISO-TP identifier of the rig's ECUs (the update),
	// from an attacker's node (whatever their identifier), and the rest.
	// All four are absent when the run did not split its load.
	RestbusPct  float64 `json:"restbusPct,omitempty"`
	UpdatePct   float64 `json:"updatePct,omitempty"`
	AttackerPct float64 `json:"attackerPct,omitempty"`
	OtherPct    float64 `json:"otherPct,omitempty"`
}

// Split reports whether the sample carries the load by kind of traffic.
func (s LoadSample) Split() bool {
	return s.RestbusPct+s.UpdatePct+s.AttackerPct+s.OtherPct > 0
}

// Summary counts the results.
type Summary struct {
	Runs   int `json:"runs"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	// Findings are the out-of-model results whose finding reproduced: not
	// in Passed (they are no defence), not failures.
	Findings int `json:"findings,omitempty"`
	// NotApplicable counts the results of scenarios that cannot judge the
	// device under test: neither passed nor failed (Runs = Passed + Failed
	// + NotApplicable + Findings).
	NotApplicable int `json:"notApplicable,omitempty"`
	// Resisted counts the out-of-model results on a device under test
	// that it resisted (Observed Resisted): not failures, not findings,
	// not in Passed either (no Uptane check defended them); Runs = Passed
	// + Failed + NotApplicable + Findings + Resisted.
	Resisted int `json:"resisted,omitempty"`
	// Unstable is the number of runs whose verdict differs between seeds
	// (each is a failure too).
	Unstable int `json:"unstable,omitempty"`
}

// New returns an empty report of the current schema, started at started.
func New(tool Tool, rig Rig, seed uint64, started time.Time) *Report {
	return &Report{Schema: Schema, Tool: tool, Rig: rig, Seed: seed, Started: started.UTC(), Results: []Result{}}
}

// Add appends results and updates the summary.
func (r *Report) Add(res ...Result) {
	r.Results = append(r.Results, res...)
	r.Summarize()
}

// Finish sets the finishing time and the summary.
func (r *Report) Finish(finished time.Time) {
	r.Finished = finished.UTC()
	r.Summarize()
}

// Summarize recomputes the summary from the results.
func (r *Report) Summarize() {
	s := Summary{Runs: len(r.Results)}
	for _, x := range r.Results {
		switch {
		case x.IsNotApplicable():
			s.NotApplicable++
		case x.IsResisted():
			s.Resisted++
		case x.Pass && x.Expected == OutOfModel:
			s.Findings++
		case x.Pass:
			s.Passed++
		default:
			s.Failed++
		}
	}
	s.Unstable = len(r.Unstable)
	r.Summary = s
	if r.DUT != nil {
		r.DUT.summarize(r.Results)
	}
	if r.Schema == Schema || r.Schema == SchemaDUT || r.Schema == SchemaResisted {
		r.Schema = r.schemaNeeded()
	}
}

// schemaNeeded is the schema the report's content needs: SchemaResisted
// when a result is resisted, SchemaDUT when it uses another field of it,
// else Schema.
func (r *Report) schemaNeeded() string {
	if r.hasResisted() {
		return SchemaResisted
	}
	if r.hasDUTContent() {
		return SchemaDUT
	}
	return Schema
}

// Ms converts a duration to the report's milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Passed reports whether no result failed and at least one passed or was
// resisted by the device under test (results of scenarios that do not
// apply to the device under test are neither).
func (r *Report) Passed() bool {
	return r.Summary.Passed+r.Summary.Resisted > 0 && r.Summary.Failed == 0
}

// ValidationError lists everything wrong with a report.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	s := fmt.Sprintf("report: %d problem(s)", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  " + p
	}
	return s
}

// Validate checks the report against the schema: required fields present,
// enumerations valid, numbers in range, raw JSON well-formed, a passing
// result observed what was expected, and the summary matching the results.
func (r *Report) Validate() error {
	var ps []string
	bad := func(f string, a ...any) { ps = append(ps, fmt.Sprintf(f, a...)) }
	if want := r.schemaNeeded(); r.Schema != want {
		bad("schema: %q, want %q", r.Schema, want)
	}
	if r.Tool.Name == "" {
		bad("tool.name: missing")
	}
	if r.Rig.Name == "" {
		bad("rig.name: missing")
	}
	if r.Rig.Transport == "" {
		bad("rig.transport: missing")
	}
	for i, b := range r.Rig.Buses {
		if b.Name == "" {
			bad("rig.buses[%d].name: missing", i)
		}
	}
	if r.Started.IsZero() {
		bad("started: missing")
	}
	if r.Finished.IsZero() {
		bad("finished: missing")
	} else if r.Finished.Before(r.Started) {
		bad("finished: %s is before started %s", r.Finished.Format(time.RFC3339), r.Started.Format(time.RFC3339))
	}
	verdict := func(v string) bool { return v == Defended || v == Compromised || v == NotApplicable || v == Resisted }
	for i, x := range r.Results {
		at := fmt.Sprintf("results[%d]", i)
		for _, f := range [][2]string{{"scenario", x.Scenario}, {"attack", x.Attack}, {"ecu", x.ECU}, {"profile", x.Profile}} {
			if f[1] == "" {
				bad("%s.%s: missing", at, f[0])
			}
		}
		if len(x.Standard) == 0 {
			bad("%s.standard: no section", at)
		}
		if x.Expected == Resisted || !verdict(x.Expected) && x.Expected != OutOfModel {
			bad("%s.expected: %q is not %q, %q, %q or %q", at, x.Expected, Defended, Compromised, NotApplicable, OutOfModel)
		}
		if x.Expected == OutOfModel && (x.Finding == "" || x.Control) {
			bad("%s: an out-of-model result has a finding and no control run", at)
		}
		if x.Expected == OutOfModel && x.Pass && x.Observed != Compromised && x.Observed != Resisted {
			bad("%s.pass: true, but the out-of-model finding was observed %q, not %q (or %q on a device under test)", at, x.Observed, Compromised, Resisted)
		}
		if !verdict(x.Observed) {
			bad("%s.observed: %q is not %q, %q, %q or %q", at, x.Observed, Defended, Compromised, NotApplicable, Resisted)
		}
		if x.Pass && x.Observed != x.Expected && x.Expected != OutOfModel {
			bad("%s.pass: true, but observed %q is not the expected %q", at, x.Observed, x.Expected)
		}
		if len(x.VersionReport) > 0 && !json.Valid(x.VersionReport) {
			bad("%s.versionReport: not valid JSON", at)
		}
		if len(x.DirectorRecord) > 0 && !json.Valid(x.DirectorRecord) {
			bad("%s.directorRecord: not valid JSON", at)
		}
		if x.Duration < 0 || x.Wall < 0 {
			bad("%s: negative duration", at)
		}
		for j, m := range x.Sequence {
			switch m.Kind {
			case KindHTTP, KindUDS, KindAttack, KindNote:
			default:
				bad("%s.sequence[%d].kind: %q is not http, uds, attack or note", at, j, m.Kind)
			}
			if m.T < 0 {
				bad("%s.sequence[%d].t: negative", at, j)
			}
			if (m.Kind == KindHTTP || m.Kind == KindUDS) && (m.From == "" || m.To == "") {
				bad("%s.sequence[%d]: an %s exchange needs from and to", at, j, m.Kind)
			}
		}
		for j, bl := range x.BusLoad {
			if bl.Bus == "" {
				bad("%s.busLoad[%d].bus: missing", at, j)
			}
			for k, s := range bl.Samples {
				if s.LoadPct < 0 || s.LoadPct > 100 || s.T < 0 {
					bad("%s.busLoad[%d].samples[%d]: t %g, loadPct %g out of range", at, j, k, s.T, s.LoadPct)
				}
				if parts := s.RestbusPct + s.UpdatePct + s.AttackerPct + s.OtherPct; min(s.RestbusPct, s.UpdatePct, s.AttackerPct, s.OtherPct) < 0 || (s.Split() && math.Abs(parts-s.LoadPct) > 0.5) {
					bad("%s.busLoad[%d].samples[%d]: restbusPct %g + updatePct %g + attackerPct %g + otherPct %g is not loadPct %g", at, j, k, s.RestbusPct, s.UpdatePct, s.AttackerPct, s.OtherPct, s.LoadPct)
				}
			}
		}
	}
	r.validateDUT(bad)
	want := r.Summary
	r2 := Report{Results: r.Results, Unstable: r.Unstable}
	r2.Summarize()
	if want != r2.Summary {
		bad("summary: %+v, but the results give %+v", want, r2.Summary)
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// ErrSchema is returned by ReadJSON for a report of another schema version.
var ErrSchema = errors.New("report: unsupported schema")
