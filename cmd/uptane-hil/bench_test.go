package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
)

// benchRun runs `uptane-hil run ARGS` in this process (its output
// discarded) and returns the wall time and the report.
func benchRun(b *testing.B, args ...string) (time.Duration, *reports.Report) {
	b.Helper()
	dir := b.TempDir()
	null, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	old := os.Stdout
	os.Stdout = null
	start := time.Now()
	code := dispatch(append([]string{"run", "--out", dir}, args...), null, null)
	took := time.Since(start)
	os.Stdout = old
	if code == 2 {
		b.Fatalf("uptane-hil run %v: exit %d", args, code)
	}
	if code != 0 {
		b.Logf("uptane-hil run %v: exit %d (some result failed; the timing stands)", args, code)
	}
	f, err := os.Open(dir + "/report.json")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rep, err := reports.ReadJSON(f)
	if err != nil {
		b.Fatal(err)
	}
	return took, rep
}

// benchSetup makes the test binary the worker command and runs from the
// module root.
func benchSetup(b *testing.B) {
	b.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.Chdir(wd) })
	os.Setenv(cliEnv, "1")
	b.Cleanup(func() { os.Unsetenv(cliEnv) })
}

// BenchmarkSuiteProcesses plays the whole suite with -p 1 and then -p 2,
// in one benchmark run, and reports both wall times and the speed-up
// (goal: at least 1.8 on two free cores).
func BenchmarkSuiteProcesses(b *testing.B) {
	benchSetup(b)
	for b.Loop() {
		t1, r1 := benchRun(b, "-p", "1")
		t2, r2 := benchRun(b, "-p", "2")
		if err := sameResults(r1, r2); err != nil {
			b.Fatalf("the whole suite with -p 2 differs from -p 1: %v", err)
		}
		b.ReportMetric(t1.Seconds(), "s-p1")
		b.ReportMetric(t2.Seconds(), "s-p2")
		b.ReportMetric(t1.Seconds()/t2.Seconds(), "speedup")
		b.ReportMetric(float64(len(r1.Results)), "runs")
		b.ReportMetric(float64(runtime.NumCPU()), "cores")
	}
}

// BenchmarkSeedSweep plays the whole suite under UPTANE_HIL_BENCH_SEEDS
// seeds (default 3) with -p <cores> and reports runs per second and the
// wall time a 100-seed sweep would take at that rate (extrapolated).
func BenchmarkSeedSweep(b *testing.B) {
	benchSetup(b)
	n := 3
	if v := os.Getenv("UPTANE_HIL_BENCH_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("UPTANE_HIL_BENCH_SEEDS=%q", v)
		}
	}
	for b.Loop() {
		took, rep := benchRun(b, "--seeds", fmt.Sprintf("1-%d", n))
		runs := float64(len(rep.Results))
		b.ReportMetric(runs/took.Seconds(), "runs/s")
		b.ReportMetric(float64(rep.Plan.Units)/took.Seconds(), "plays/s")
		b.ReportMetric(runs, "runs")
		b.ReportMetric(took.Seconds()*100/float64(n), "s-per-100-seeds")
	}
}

// sameResults compares two reports' results, wall times aside; a result
// signed with randomized signatures (RSA-PSS, ECDSA: see golden_test.go)
// is compared by its verdict only.
func sameResults(a, b *reports.Report) error {
	if len(a.Results) != len(b.Results) {
		return fmt.Errorf("%d results, %d results", len(a.Results), len(b.Results))
	}
	for i := range a.Results {
		x, y := a.Results[i], b.Results[i]
		x.Wall, y.Wall = 0, 0
		if randomlySigned(x) || randomlySigned(y) {
			if x.Observed != y.Observed || x.Pass != y.Pass || x.Detected != y.Detected || x.Scenario != y.Scenario || x.ECU != y.ECU || x.Profile != y.Profile {
				return fmt.Errorf("result %d (%s %s %s): verdict differs", i, x.Scenario, x.ECU, x.Profile)
			}
			continue
		}
		jx, _ := json.Marshal(x)
		jy, _ := json.Marshal(y)
		if !bytes.Equal(jx, jy) {
			return fmt.Errorf("result %d (%s %s %s) differs", i, x.Scenario, x.ECU, x.Profile)
		}
	}
	return nil
}

// randomlySigned reports whether a result's version report is signed by a
// scheme other than ed25519.
func randomlySigned(x reports.Result) bool {
	var vr struct {
		Signatures []struct {
			Method string `json:"method"`
		} `json:"signatures"`
	}
	if json.Unmarshal(x.VersionReport, &vr) != nil {
		return false
	}
	for _, sg := range vr.Signatures {
		if sg.Method != "ed25519" {
			return true
		}
	}
	return false
}
