package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// A suite played against a device under test (DUT: a Secondary the harness
// does not run, reached only over the bus) judges each scenario twice: the
// conformant run on the DUT (Result.Target TargetDUT), which must defend
// the attack by itself, and the control run on the DUT's simulated twin
// (TargetTwin: same profile, bus and ids, minus the scenario's defence),
// which shows the scenario can fail. A scenario whose defence the DUT does
// not perform has one DUT result Expected = Observed = NotApplicable, with
// the reason in Detail; it is counted apart (Summary.NotApplicable),
// neither passed nor failed, and never dropped.

// NotApplicable is the verdict of a scenario that cannot judge the DUT
// (Result.Expected and Observed, DUTScenario.Verdict).
const NotApplicable = "not applicable"

// Targets: what a result judges (Result.Target; "" for an ECU simulated in
// the harness's process).
const (
	TargetDUT  = "dut"
	TargetTwin = "twin"
)

// SchemaDUT is the report format with a device under test: the fields of
// Schema plus the dut section, the target, applicability, checks and
// identity of a result, the verdict NotApplicable and
// summary.notApplicable. A report without any of them keeps Schema, byte
// for byte; one with them is SchemaDUT, which readers of Schema alone
// refuse rather than count a not-applicable result as failed.
const SchemaDUT = "uptane-hil/report/v2"

// SchemaResisted is SchemaDUT plus the verdict Resisted (a device under
// test that resisted an attack out of the model), summary.resisted and
// dut.resisted. Only a report with a resisted result has it; every other
// report keeps Schema or SchemaDUT, byte for byte. A reader of SchemaDUT
// alone refuses it rather than miscount the result (its runs would not
// add up, and the row's verdict is none it knows).
const SchemaResisted = "uptane-hil/report/v3"

// Identity is what the DUT says about itself on the bus.
type Identity struct {
	ECU        string `json:"ecu"`        // DID 0xF18C
	HardwareID string `json:"hardwareId"` // DID 0xF191
	VIN        string `json:"vin"`        // DID 0xF190
	// Profile is the verification it performs (DID 0xF1A5): "full" or
	// "partial".
	Profile string `json:"profile"`
	// KeyID is the key ID of its public key.
	KeyID string `json:"keyId"`
	// Installed is the target file name its signed version report names,
	// Release that image's release counter.
	Installed string `json:"installed"`
	Release   uint64 `json:"release"`
	// Time is the latest attested time it reports (zero: none).
	Time time.Time `json:"time,omitzero"`
}

// DUT is the report's section on the device under test.
type DUT struct {
	// ECU is the rig's id of the DUT.
	ECU string `json:"ecu"`
	// Bus is the rig's bus it sits on, Interface that bus's SocketCAN
	// interface; Link says how the harness reaches it (e.g. "UDS on
	// ISO-TP (kernel can-isotp)", "aktualizr-ip over TCP").
	Bus       string `json:"bus,omitempty"`
	Interface string `json:"interface,omitempty"`
	Link      string `json:"link,omitempty"`
	// Start is the identity as read before the first scenario, End as
	// read after the last (nil: not read).
	Start *Identity `json:"start,omitempty"`
	End   *Identity `json:"end,omitempty"`
	// Scenarios has a row per scenario (and seed) played against the DUT,
	// in plan order; Summarize derives it from the results.
	Scenarios []DUTScenario `json:"scenarios"`
	// Defended, Compromised, NotApplicable and Resisted count the rows by
	// verdict.
	Defended      int `json:"defended"`
	Compromised   int `json:"compromised"`
	NotApplicable int `json:"notApplicable"`
	// Resisted counts the rows of scenarios out of the model that the
	// device resisted (verdict Resisted; SchemaResisted): neither findings
	// nor defences.
	Resisted int `json:"resisted,omitempty"`
	// Findings counts the rows of scenarios out of the model whose finding
	// reproduced on the DUT (Finding set): neither defended nor counted as
	// compromised.
	Findings int `json:"findings,omitempty"`
}

// DUTScenario is one scenario's verdict on the DUT with the twin's control
// result beside it.
type DUTScenario struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed,omitempty"`
	// Verdict is Defended, Compromised, NotApplicable or Resisted (an
	// attack out of the model the device resisted); Pass whether the
	// DUT result passed (false for NotApplicable, which is not a failure
	// either).
	Verdict  string `json:"verdict"`
	Pass     bool   `json:"pass"`
	Detected string `json:"detected"`
	// Checks are the checks of the scenario's defence the DUT performs;
	// Missing those of them that failed to show (none reported the attack):
	// the defence the DUT lacks.
	Checks  []string `json:"checks,omitempty"`
	Missing []string `json:"missing,omitempty"`
	// Reason says why the scenario does not apply to the DUT.
	Reason string `json:"reason,omitempty"`
	// Detail is the DUT result's detail.
	Detail string `json:"detail"`
	// Identity is the DUT's identity as read before the scenario.
	Identity   *Identity `json:"identity,omitempty"`
	Capture    string    `json:"capture,omitempty"`
	CandumpLog string    `json:"candumpLog,omitempty"`
	// Twin is the control run on the DUT's simulated twin (nil: none
	// played).
	Twin *TwinControl `json:"twin,omitempty"`
	// Finding, for a scenario out of the model played on the DUT: why no
	// check can stop it (Result.Finding), whether it reproduced there
	// (verdict Compromised) or the device resisted it (Resisted).
	Finding string `json:"finding,omitempty"`
}

// TwinControl is the control result of the DUT's twin for one scenario.
type TwinControl struct {
	Profile  string `json:"profile"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	Pass     bool   `json:"pass"`
	Capture  string `json:"capture,omitempty"`
}

// IsNotApplicable says whether a result is a scenario that cannot judge
// the DUT.
func (x Result) IsNotApplicable() bool {
	return x.Expected == NotApplicable
}

// IsResisted says whether a result is an attack out of the model that the
// device under test resisted (Observed Resisted).
func (x Result) IsResisted() bool {
	return x.Observed == Resisted
}

// hasResisted says whether a result is resisted (SchemaResisted).
func (r *Report) hasResisted() bool {
	for _, x := range r.Results {
		if x.IsResisted() {
			return true
		}
	}
	return r.DUT != nil && r.DUT.Resisted > 0
}

// hasDUTContent says whether the report uses a field of SchemaDUT.
func (r *Report) hasDUTContent() bool {
	if r.DUT != nil {
		return true
	}
	for _, x := range r.Results {
		if x.Target != "" || x.Applicability != "" || x.Identity != nil || len(x.Checks) > 0 || x.IsNotApplicable() || x.Observed == NotApplicable {
			return true
		}
	}
	return false
}

// dutRows derives the DUT section's rows from the results: one per DUT
// result, in result order, with the twin's control result of the same
// scenario and seed beside it.
func dutRows(results []Result) []DUTScenario {
	type key struct {
		scenario string
		seed     uint64
	}
	twins := map[key]*Result{}
	for i, x := range results {
		if x.Target == TargetTwin {
			if _, seen := twins[key{x.Scenario, x.Seed}]; !seen {
				twins[key{x.Scenario, x.Seed}] = &results[i]
			}
		}
	}
	rows := []DUTScenario{}
	for _, x := range results {
		if x.Target != TargetDUT {
			continue
		}
		row := DUTScenario{Scenario: x.Scenario, Seed: x.Seed, Verdict: x.Observed, Pass: x.Pass, Detected: x.Detected,
			Checks: x.Checks, Detail: x.Detail, Identity: x.Identity, Capture: x.Capture, CandumpLog: x.CandumpLog, Finding: x.Finding}
		if x.IsNotApplicable() {
			row.Verdict = NotApplicable
			row.Reason = x.Detail
		} else if !x.Pass && !slices.Contains(x.Checks, x.Detected) {
			row.Missing = x.Checks
		}
		if t := twins[key{x.Scenario, x.Seed}]; t != nil {
			row.Twin = &TwinControl{Profile: t.Profile, Expected: t.Expected, Observed: t.Observed, Pass: t.Pass, Capture: t.Capture}
		}
		rows = append(rows, row)
	}
	return rows
}

// summarizeDUT rebuilds the DUT section's rows and counts from the
// results.
func (d *DUT) summarize(results []Result) {
	d.Scenarios = dutRows(results)
	d.Defended, d.Compromised, d.NotApplicable, d.Findings, d.Resisted = 0, 0, 0, 0, 0
	for _, row := range d.Scenarios {
		if row.Verdict == Resisted {
			d.Resisted++
			continue
		}
		if row.Finding != "" && row.Pass {
			d.Findings++
			continue
		}
		switch row.Verdict {
		case Defended:
			d.Defended++
		case Compromised:
			d.Compromised++
		case NotApplicable:
			d.NotApplicable++
		}
	}
}

// MissingText names the checks a failed DUT result lacks, for people: ""
// when the row passed or does not apply.
func (row DUTScenario) MissingText() string {
	if len(row.Missing) == 0 {
		return ""
	}
	return lacksText(row.Missing)
}

// lacksText says which defence the DUT did not show.
func lacksText(checks []string) string {
	if len(checks) == 1 {
		return "the device under test lacks " + checks[0]
	}
	return "the device under test lacks its defence: none of " + strings.Join(checks, ", ") + " reported the attack"
}

// validateDUT adds the problems of the DUT fields to bad.
func (r *Report) validateDUT(bad func(string, ...any)) {
	for i, x := range r.Results {
		at := fmt.Sprintf("results[%d]", i)
		switch x.Target {
		case "", TargetDUT, TargetTwin:
		default:
			bad("%s.target: %q is not %q or %q", at, x.Target, TargetDUT, TargetTwin)
		}
		if (x.Expected == NotApplicable) != (x.Observed == NotApplicable) {
			bad("%s: expected %q but observed %q: a scenario that does not apply is not applicable on both sides", at, x.Expected, x.Observed)
		}
		if x.IsResisted() && (x.Target != TargetDUT || x.Expected != OutOfModel || !x.Pass || x.Detected != "" || x.Detail == "") {
			bad("%s.observed: %q is only the verdict of an out-of-model result on the device under test (target %q, expected %q), passing, with no check credited (detected \"\") and what the device did in detail", at, Resisted, TargetDUT, OutOfModel)
		}
		if x.IsNotApplicable() {
			if x.Target != TargetDUT {
				bad("%s.expected: %q is only the verdict of a result on the device under test (target %q)", at, NotApplicable, TargetDUT)
			}
			if x.Pass {
				bad("%s.pass: a scenario that does not apply neither passes nor fails (pass false)", at)
			}
			if x.Detail == "" {
				bad("%s.detail: a scenario that does not apply says why", at)
			}
		}
	}
	if r.DUT == nil {
		return
	}
	if r.DUT.ECU == "" {
		bad("dut.ecu: missing")
	}
	d := DUT{}
	d.summarize(r.Results)
	if !slices.EqualFunc(d.Scenarios, r.DUT.Scenarios, sameRow) || d.Defended != r.DUT.Defended ||
		d.Compromised != r.DUT.Compromised || d.NotApplicable != r.DUT.NotApplicable || d.Findings != r.DUT.Findings || d.Resisted != r.DUT.Resisted {
		bad("dut.scenarios: %d rows (%d defended, %d compromised, %d not applicable, %d findings, %d resisted), but the results give %d (%d, %d, %d, %d, %d)",
			len(r.DUT.Scenarios), r.DUT.Defended, r.DUT.Compromised, r.DUT.NotApplicable, r.DUT.Findings, r.DUT.Resisted,
			len(d.Scenarios), d.Defended, d.Compromised, d.NotApplicable, d.Findings, d.Resisted)
	}
}

func sameRow(a, b DUTScenario) bool {
	return a.Scenario == b.Scenario && a.Seed == b.Seed && a.Verdict == b.Verdict && a.Pass == b.Pass &&
		a.Detected == b.Detected && slices.Equal(a.Missing, b.Missing) && (a.Twin == nil) == (b.Twin == nil) &&
		(a.Twin == nil || *a.Twin == *b.Twin)
}

// mergeDUT is the DUT section of merged shards: the identity read at the
// start of the earliest shard and at the end of the latest, rows from the
// merged results (Summarize).
func mergeDUT(shards []ShardReport) *DUT {
	var m *DUT
	var first, last *Report
	for _, s := range shards {
		r := s.Report
		if r.DUT == nil {
			continue
		}
		if m == nil {
			c := *r.DUT
			m = &c
		}
		if first == nil || r.Started.Before(first.Started) {
			first = r
		}
		if last == nil || r.Finished.After(last.Finished) {
			last = r
		}
	}
	if m == nil {
		return nil
	}
	m.Start, m.End = first.DUT.Start, last.DUT.End
	return m
}

// Line is the identity on one line, for text outputs.
func (id *Identity) Line() string {
	s := fmt.Sprintf("ECU %s, hardware %s, VIN %s, %s verification, key %s, installed %s (release %d)",
		orDash(id.ECU), orDash(id.HardwareID), orDash(id.VIN), orDash(id.Profile), orDash(id.KeyID), orDash(id.Installed), id.Release)
	if !id.Time.IsZero() {
		s += ", attested time " + id.Time.UTC().Format(time.RFC3339)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
