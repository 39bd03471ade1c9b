package scenarios_test

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// The whole suite, twice, against one DUT that keeps its state: issue 10's
// "a second run of the whole suite on the same DUT passes too", each pass
// in another seeded order (a scenario must not depend on the one before
// it). The DUT is reached only over a wall-clock virtual bus, as another
// process would be (newBench).
var _ = Describe("the whole suite against one DUT", Label("dut"), func() {
	for _, c := range []struct{ ecu, profile string }{{"ECM-0001", "full"}, {"BRK-0001", "partial"}} {
		It("a conformant "+c.profile+"-verification DUT ("+c.ecu+"): every applicable scenario defended twice in a row in shuffled orders without a reset, every other one not applicable with its reason, every twin control compromised (the twin, made afresh for each control, plays them once)", func() {
			files, err := filepath.Glob("*.yaml")
			Expect(err).NotTo(HaveOccurred())
			seed := GinkgoRandomSeed()
			rnd := rand.New(rand.NewSource(seed))
			b := newBench(check.Conformant, c.ecu)
			applicable := 0
			var played []scenarios.Result // every DUT result with what it read, in play order
			var seen []map[string]map[string]int64
			for run := 1; run <= 2; run++ {
				order := slices.Clone(files)
				rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				GinkgoWriter.Printf("pass %d (--seed=%d): %v\n", run, seed, order)
				// The twin is made afresh for every control run, on the
				// simulated clock from the same seed (run.go): its
				// controls in the second pass would replay the first's.
				b.dutOnly = run == 2
				started := time.Now()
				rs := b.play(order...)
				logWall(run, time.Since(started), rs)
				dut, tw := dutResults(rs)
				Expect(dut).To(HaveLen(len(files)), "run %d: one DUT result per scenario, none dropped", run)
				if run == 1 {
					Expect(len(tw)).To(BeNumerically(">=", countApplicable(dut)), "a twin's control beside every applicable scenario")
				} else {
					Expect(tw).To(BeEmpty())
				}
				// every failure of the pass at once, in play order
				var failed []string
				for _, r := range dut {
					switch {
					case r.Observed == scenarios.NotApplicable:
						Expect(r.Pass).To(BeFalse(), "run %d: %s", run, r.Scenario)
						Expect(r.Detail).NotTo(BeEmpty(), "run %d: %s: the reason", run, r.Scenario)
					case !r.Pass || r.Observed != scenarios.Defended:
						failed = append(failed, fmt.Sprintf("%s on the DUT: %s (detected %q): %s", r.Scenario, r.Observed, r.Detected, r.Detail))
						logEvents(r)
					case run == 1:
						applicable++
					}
				}
				for _, r := range tw {
					if !r.Pass {
						failed = append(failed, fmt.Sprintf("%s: the twin's control: %s: %s", r.Scenario, r.Observed, r.Detail))
					}
				}
				Expect(failed).To(BeEmpty(), "run %d (--seed=%d)", run, seed)
				for _, r := range dut {
					if r.Identity != nil {
						played = append(played, r)
					}
				}
				seen = append(seen, seenVersions(b.state))
			}
			// What the DUT reports only goes up across scenarios and both
			// passes: its installed release, its attested time, its report
			// counter; and the metadata versions the backend planned above.
			Expect(len(played)).To(BeNumerically(">=", 2*10))
			for i, r := range played {
				Expect(r.After).NotTo(BeNil(), r.Scenario)
				Expect(r.After.Release).To(BeNumerically(">=", r.Identity.Release), "%s: the release the DUT runs", r.Scenario)
				Expect(r.After.Time.Before(r.Identity.Time)).To(BeFalse(), "%s: the DUT's attested time", r.Scenario)
				Expect(r.After.Counter).To(BeNumerically(">", r.Identity.Counter), "%s: the DUT's report counter", r.Scenario)
				if i == 0 {
					continue
				}
				prev := played[i-1]
				Expect(r.Identity.Release).To(BeNumerically(">=", prev.After.Release), "%s after %s (--seed=%d)", r.Scenario, prev.Scenario, seed)
				Expect(r.Identity.Time.Before(prev.After.Time)).To(BeFalse(), "%s after %s: attested time %s, then %s (--seed=%d)", r.Scenario, prev.Scenario, prev.After.Time, r.Identity.Time, seed)
				Expect(r.Identity.Counter).To(BeNumerically(">", prev.After.Counter), "%s after %s (--seed=%d)", r.Scenario, prev.Scenario, seed)
			}
			last := played[len(played)-1]
			Expect(last.After.Release).To(BeNumerically(">", played[0].Identity.Release), "campaigns moved the DUT on")
			// and at the end of it all (the report's dut.end)
			end, err := scenarios.ReadDUT(scenarios.RunOptions{Rig: b.rig, DUT: &scenarios.DUT{ECU: b.dut, State: b.state, Buses: b.buses}})
			Expect(err).NotTo(HaveOccurred())
			Expect(end.ECU).To(Equal(c.ecu))
			Expect(end.Profile).To(Equal(c.profile))
			Expect(end.KeyID).To(Equal(last.Identity.KeyID))
			Expect(end.Installed).To(Equal(last.After.Installed))
			Expect(end.Release).To(Equal(last.After.Release))
			Expect(end.Time.Before(last.After.Time)).To(BeFalse())
			Expect(end.Counter).To(BeNumerically(">", last.After.Counter))
			for repo, roles := range seen[0] {
				for role, n := range roles {
					Expect(seen[1][repo][role]).To(BeNumerically(">=", n), "%s %s: the highest version the Primary was given", repo, role)
				}
			}
			Expect(seen[1]["director"]["targets"]).To(BeNumerically(">", seen[0]["director"]["targets"]), "the second pass's campaigns signed new Director Targets")
			Expect(applicable).To(BeNumerically(">=", 10), "the suite judges the DUT")
		})
	}
})

// logEvents writes a failed result's events (printed with the failure).
func logEvents(r scenarios.Result) {
	GinkgoWriter.Printf("events of %s (%s):\n", r.Scenario, r.Target)
	for _, e := range r.Events {
		GinkgoWriter.Printf("  %s %-8v %s→%s %s %s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.From, e.To, e.ECU, e.Label, e.Err)
	}
}

// seenVersions reads the highest metadata versions the harness's Primary
// was given, by repository and role, from the DUT's state directory.
func seenVersions(state string) map[string]map[string]int64 {
	GinkgoHelper()
	Expect(filepath.Join(state, "dut-versions.json")).To(BeAnExistingFile())
	out, err := scenarios.SeenVersions(state)
	Expect(err).NotTo(HaveOccurred())
	Expect(out).To(HaveKey("director"))
	return out
}

// logWall writes where a pass's time went: its wall time, the DUT's plays
// and the twin's, and the slowest plays.
func logWall(run int, total time.Duration, rs []scenarios.Result) {
	var onDUT, twin time.Duration
	for _, r := range rs {
		if r.Target == scenarios.OnDUT {
			onDUT += r.Wall
		} else {
			twin += r.Wall
		}
	}
	slow := slices.Clone(rs)
	slices.SortFunc(slow, func(a, b scenarios.Result) int { return int(b.Wall - a.Wall) })
	GinkgoWriter.Printf("pass %d: %s wall (DUT plays %s, twin plays %s); slowest:", run, total.Round(time.Millisecond), onDUT.Round(time.Millisecond), twin.Round(time.Millisecond))
	for _, r := range slow[:min(8, len(slow))] {
		GinkgoWriter.Printf(" %s/%s %s", r.Scenario, r.Target, r.Wall.Round(time.Millisecond))
	}
	GinkgoWriter.Println()
}

// countApplicable counts the results that are not "not applicable".
func countApplicable(rs []scenarios.Result) int {
	n := 0
	for _, r := range rs {
		if r.Observed != scenarios.NotApplicable {
			n++
		}
	}
	return n
}
