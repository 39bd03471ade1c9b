package reports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Errors of Merge: the shards are not parts of one suite (ErrMismatch) or
// not all of it, exactly once (ErrIncomplete).
var (
	ErrMismatch   = errors.New("shards of different suites")
	ErrIncomplete = errors.New("incomplete set of shards")
)

// ShardReport is one shard's report and the folder it was read from.
type ShardReport struct {
	Dir    string
	Report *Report
}

// ReadShard reads DIR/report.json of a shard.
func ReadShard(dir string) (ShardReport, error) {
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		return ShardReport{}, fmt.Errorf("shard %s: %w (is this the --out folder of a sharded run?)", dir, err)
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return ShardReport{}, fmt.Errorf("shard %s: report.json: %w", dir, err)
	}
	if r.Shard == nil || r.Plan == nil {
		return ShardReport{}, fmt.Errorf("%w: %s/report.json is not a shard's report (no shard or plan field): merge the --out folders of `uptane-hil run --shard K/N`", ErrMismatch, dir)
	}
	return ShardReport{Dir: dir, Report: r}, nil
}

// Merge checks that the shards are the parts of one suite — same tool
// version, rig, scenarios, seeds and split — each part given once and none
// missing, and returns the report of the whole suite: the results in plan
// order, as `uptane-hil run` without shards writes them (only the
// timings differ: started is the earliest start, finished the latest end).
func Merge(shards []ShardReport) (*Report, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("%w: no shards given", ErrIncomplete)
	}
	sort.SliceStable(shards, func(i, j int) bool { return shards[i].Report.Shard.Index < shards[j].Report.Shard.Index })
	a := shards[0]
	ra := a.Report
	for _, b := range shards[1:] {
		if err := sameSuite(a, b); err != nil {
			return nil, err
		}
	}
	count := ra.Shard.Count
	seen := map[int]string{}
	for _, s := range shards {
		x := s.Report.Shard
		if x.Index < 1 || x.Index > count {
			return nil, fmt.Errorf("%w: %s is shard %d/%d, outside 1..%d", ErrMismatch, s.Dir, x.Index, x.Count, count)
		}
		if d, dup := seen[x.Index]; dup {
			return nil, fmt.Errorf("%w: shard %d/%d given twice: %s and %s", ErrIncomplete, x.Index, count, d, s.Dir)
		}
		seen[x.Index] = s.Dir
	}
	var missing []string
	for k := 1; k <= count; k++ {
		if _, ok := seen[k]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d (Kubernetes JOB_COMPLETION_INDEX=%d)", k, count, k-1))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: shard %s missing; %d of %d given: rerun the missing shard (`uptane-hil run --shard K/N` with the same rig, scenarios and seeds) and merge again",
			ErrIncomplete, strings.Join(missing, ", "), len(shards), count)
	}
	played := make([]string, ra.Plan.Units)
	for _, s := range shards {
		for _, u := range s.Report.Shard.Units {
			if u < 0 || u >= len(played) {
				return nil, fmt.Errorf("%w: %s played play %d, outside the plan's %d plays", ErrMismatch, s.Dir, u, len(played))
			}
			if played[u] != "" {
				return nil, fmt.Errorf("%w: play %d of the plan was played by two shards (%s and %s): were they split the same way?", ErrIncomplete, u, played[u], s.Dir)
			}
			played[u] = s.Dir
		}
	}
	for u, d := range played {
		if d == "" {
			return nil, fmt.Errorf("%w: play %d of the plan was played by no shard", ErrIncomplete, u)
		}
	}

	m := *ra
	m.Shard, m.Unstable = nil, nil
	m.Results = nil
	for _, s := range shards {
		r := s.Report
		if r.Started.Before(m.Started) {
			m.Started = r.Started
		}
		if r.Finished.After(m.Finished) {
			m.Finished = r.Finished
		}
		m.Results = append(m.Results, r.Results...)
	}
	m.DUT = mergeDUT(shards)
	SortPlanOrder(&m)
	m.FindUnstable()
	if ra.Coverage != nil {
		m.Coverage = ra.Coverage.forResults(m.Results)
	}
	return &m, nil
}

// forResults is the coverage with each statement's scenarios taken from
// results (as NewCoverage does): every shard of a suite has the same
// statements, sections and counts (same tool, same scenarios), only the
// scenarios it played.
func (c *Coverage) forResults(results []Result) *Coverage {
	ran := map[string][]string{}
	seen := map[string]bool{}
	for _, r := range results {
		for _, id := range r.Statements {
			if k := id + "\x00" + r.Scenario; !seen[k] {
				seen[k] = true
				ran[id] = append(ran[id], r.Scenario)
			}
		}
	}
	n := *c
	n.Rows = make([]CoverageStatement, len(c.Rows))
	for i, row := range c.Rows {
		row.Scenarios = ran[row.ID]
		if row.Scenarios == nil {
			row.Scenarios = []string{}
		}
		n.Rows[i] = row
	}
	return &n
}

// SortPlanOrder sorts the results in plan order: scenario (in the plan's
// order), seed (in the sweep's order), conformant before control; the
// results of one run keep their order.
func SortPlanOrder(r *Report) {
	scen := map[string]int{}
	if r.Plan != nil {
		for i, s := range r.Plan.Scenarios {
			scen[s.Name] = i
		}
	}
	seeds := map[uint64]int{}
	for i, s := range r.Seeds {
		seeds[s] = i
	}
	key := func(x Result) [3]int {
		c := 0
		if x.Control {
			c = 1
		}
		return [3]int{scen[x.Scenario], seeds[x.Seed], c}
	}
	sort.SliceStable(r.Results, func(i, j int) bool {
		a, b := key(r.Results[i]), key(r.Results[j])
		return slices.Compare(a[:], b[:]) < 0
	})
}

// sameSuite says why shard b is not a part of shard a's suite, nil if it
// is.
func sameSuite(a, b ShardReport) error {
	ra, rb := a.Report, b.Report
	diff := func(what, va, vb string) error {
		return fmt.Errorf("%w: %s differ: %s has %s, %s has %s", ErrMismatch, what, a.Dir, va, b.Dir, vb)
	}
	if ra.Tool != rb.Tool {
		return diff("tool versions", ra.Tool.Name+" "+ra.Tool.Version, rb.Tool.Name+" "+rb.Tool.Version)
	}
	if ra.Rig.Name != rb.Rig.Name || ra.Rig.Digest != rb.Rig.Digest {
		return diff("rigs", fmt.Sprintf("rig %s (%s, sha256 %.12s)", ra.Rig.Name, ra.Rig.File, ra.Rig.Digest),
			fmt.Sprintf("rig %s (%s, sha256 %.12s)", rb.Rig.Name, rb.Rig.File, rb.Rig.Digest))
	}
	if da, db := dutOf(ra), dutOf(rb); da != db {
		return diff("devices under test", da, db)
	}
	if err := sameScenarios(a, b); err != nil {
		return err
	}
	if ra.Seed != rb.Seed || !slices.Equal(ra.Seeds, rb.Seeds) {
		return diff("seeds", seedsOf(ra), seedsOf(rb))
	}
	if ra.Plan.Digest != rb.Plan.Digest || ra.Plan.Units != rb.Plan.Units {
		return diff("plans", fmt.Sprintf("%d runs (sha256 %.12s)", ra.Plan.Units, ra.Plan.Digest), fmt.Sprintf("%d runs (sha256 %.12s)", rb.Plan.Units, rb.Plan.Digest))
	}
	if ra.Shard.Count != rb.Shard.Count {
		return diff("shard counts", fmt.Sprintf("shard %d/%d", ra.Shard.Index, ra.Shard.Count), fmt.Sprintf("shard %d/%d", rb.Shard.Index, rb.Shard.Count))
	}
	if ra.Shard.Balance != rb.Shard.Balance {
		return diff("splits (--timings)", "balance "+ra.Shard.Balance, "balance "+rb.Shard.Balance)
	}
	return nil
}

func sameScenarios(a, b ShardReport) error {
	sa, sb := a.Report.Plan.Scenarios, b.Report.Plan.Scenarios
	index := func(l []PlanScenario) map[string]PlanScenario {
		m := map[string]PlanScenario{}
		for _, s := range l {
			m[s.Name] = s
		}
		return m
	}
	ia, ib := index(sa), index(sb)
	for _, s := range sa {
		t, ok := ib[s.Name]
		if !ok {
			return fmt.Errorf("%w: scenario sets differ: %s has scenario %s (%s), %s does not", ErrMismatch, a.Dir, s.Name, s.File, b.Dir)
		}
		if t.Digest != s.Digest {
			return fmt.Errorf("%w: scenario sets differ: scenario %s is not the same file in %s (%s, sha256 %.12s) and %s (%s, sha256 %.12s)",
				ErrMismatch, s.Name, a.Dir, s.File, s.Digest, b.Dir, t.File, t.Digest)
		}
	}
	for _, s := range sb {
		if _, ok := ia[s.Name]; !ok {
			return fmt.Errorf("%w: scenario sets differ: %s has scenario %s (%s), %s does not", ErrMismatch, b.Dir, s.Name, s.File, a.Dir)
		}
	}
	if !slices.EqualFunc(sa, sb, func(x, y PlanScenario) bool { return x.Name == y.Name }) {
		return fmt.Errorf("%w: scenario sets differ: %s and %s list the same scenarios in a different order (give the files in the same order)", ErrMismatch, a.Dir, b.Dir)
	}
	return nil
}

func seedsOf(r *Report) string {
	if len(r.Seeds) > 0 {
		return "seeds " + SeedRanges(r.Seeds)
	}
	return fmt.Sprintf("seed %d", r.Seed)
}

// CopyCaptures copies the capture files each shard's results name from the
// shard's folder into out (relative paths kept). A capture named by a
// report but missing from its shard's folder is an error.
func CopyCaptures(out string, shards []ShardReport) error {
	done := map[string]bool{}
	for _, s := range shards {
		for _, x := range s.Report.Results {
			for _, rel := range []string{x.Capture, x.CandumpLog} {
				if rel == "" || done[rel] {
					continue
				}
				done[rel] = true
				if filepath.IsAbs(rel) || strings.HasPrefix(filepath.Clean(rel), "..") {
					return fmt.Errorf("shard %s: capture path %q is not inside the shard's folder", s.Dir, rel)
				}
				if err := copyFile(filepath.Join(s.Dir, rel), filepath.Join(out, rel)); err != nil {
					return fmt.Errorf("shard %s: %w", s.Dir, err)
				}
			}
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("capture named by report.json: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// dutOf names the report's device under test, for sameSuite.
func dutOf(r *Report) string {
	if r.DUT == nil {
		return "no device under test"
	}
	return "device under test " + r.DUT.ECU
}
