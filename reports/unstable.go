package reports

import (
	"fmt"
	"io"
	"strings"
)

// Unstable is one run (scenario, ECU, profile) whose verdict differs
// between the seeds of a sweep: a defence that holds only on some fault
// patterns of the bus, or a control that is compromised only on some. Each
// is a failure (under some seeds the observed verdict is not the expected
// one); Verdicts says which seeds replay which verdict.
type Unstable struct {
	Scenario string         `json:"scenario"`
	ECU      string         `json:"ecu"`
	Profile  string         `json:"profile"`
	Control  bool           `json:"control"`
	Expected string         `json:"expected"`
	Verdicts []SeedVerdicts `json:"verdicts"`
}

// SeedVerdicts is one verdict of an unstable run and the seeds that give
// it.
type SeedVerdicts struct {
	Observed string   `json:"observed"`
	Detected string   `json:"detected"`
	Pass     bool     `json:"pass"`
	Seeds    []uint64 `json:"seeds"`
	// Replay is the command that replays the first of these seeds.
	Replay string `json:"replay,omitempty"`
}

// FindUnstable sets r.Unstable from the results: every (scenario, ECU,
// profile) with more than one distinct verdict (observed, detected check,
// pass) across seeds, in the order the results first name them. The replay
// commands name the rig file and the scenario files of the plan.
func (r *Report) FindUnstable() {
	files := map[string]string{}
	if r.Plan != nil {
		for _, s := range r.Plan.Scenarios {
			files[s.Name] = s.File
		}
	}
	type key struct{ scenario, ecu, profile string }
	groups := map[key]*Unstable{}
	var order []key
	for _, x := range r.Results {
		k := key{x.Scenario, x.ECU, x.Profile}
		g := groups[k]
		if g == nil {
			g = &Unstable{Scenario: x.Scenario, ECU: x.ECU, Profile: x.Profile, Control: x.Control, Expected: x.Expected}
			groups[k] = g
			order = append(order, k)
		}
		found := false
		for i := range g.Verdicts {
			v := &g.Verdicts[i]
			if v.Observed == x.Observed && v.Detected == x.Detected && v.Pass == x.Pass {
				v.Seeds = append(v.Seeds, x.Seed)
				found = true
				break
			}
		}
		if !found {
			g.Verdicts = append(g.Verdicts, SeedVerdicts{Observed: x.Observed, Detected: x.Detected, Pass: x.Pass, Seeds: []uint64{x.Seed},
				Replay: replay(r.Rig.File, files[x.Scenario], x.Seed)})
		}
	}
	r.Unstable = nil
	for _, k := range order {
		if g := groups[k]; len(g.Verdicts) > 1 {
			r.Unstable = append(r.Unstable, *g)
		}
	}
	r.Summarize()
}

func replay(rig, file string, seed uint64) string {
	if file == "" {
		return ""
	}
	return fmt.Sprintf("uptane-hil run --rig %s --seed %d %s", rig, seed, file)
}

// SeedRanges writes seeds compactly: "1-3,7,9-10".
func SeedRanges(seeds []uint64) string {
	var b strings.Builder
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", seeds[i], seeds[j])
		} else {
			fmt.Fprintf(&b, "%d", seeds[i])
		}
		i = j + 1
	}
	return b.String()
}

// WriteUnstable writes one paragraph per unstable run for the terminal.
func WriteUnstable(w io.Writer, r *Report) {
	if len(r.Unstable) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d run(s) with a verdict that differs between seeds (each a failure):\n", len(r.Unstable))
	for _, u := range r.Unstable {
		fmt.Fprintf(w, "  %s  %s  %s  (expected %s)\n", u.Scenario, u.ECU, u.Profile, u.Expected)
		for _, v := range u.Verdicts {
			det := v.Detected
			if det == "" {
				det = "-"
			}
			fmt.Fprintf(w, "    %-11s %-40s %s under seeds %s", v.Observed, det, passWord(v.Pass), SeedRanges(v.Seeds))
			if v.Replay != "" {
				fmt.Fprintf(w, "   replay: %s", v.Replay)
			}
			fmt.Fprintln(w)
		}
	}
}
