package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
)

func init() {
	register("merge", "merge the reports of the shards of one suite into one report", runMerge)
}

func runMerge(args []string) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("out", "out", "output directory for the merged reports and captures")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil merge --out DIR SHARD_DIR...

Merges the --out folders of the shards of one suite (uptane-hil run
--shard K/N, on as many machines) into DIR/report.json, junit.xml,
report.html and captures/: the same report as one unsharded run, the
timings aside. Refuses shards of different tool versions, rigs, scenario
sets, seeds or splits, and a set with a shard missing or given twice (rerun
that shard's index and merge again). Exit status: 0 if every result
passes, 1 if one fails, 2 if the shards cannot be merged.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "uptane-hil merge: no shard folders given")
		return 2
	}
	var shards []reports.ShardReport
	for _, d := range fs.Args() {
		s, err := reports.ReadShard(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "uptane-hil merge:", err)
			return 2
		}
		shards = append(shards, s)
	}
	m, err := reports.Merge(shards)
	if err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil merge:", err)
		return 2
	}
	if err := os.RemoveAll(capturesDir(*out)); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil merge:", err)
		return 1
	}
	if err := reports.CopyCaptures(*out, shards); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil merge:", err)
		return 2
	}
	m.Finish(m.Finished)
	if err := reports.WriteAll(*out, m, reports.WithStandard(reports.StandardSections(reports.StandardText))); err != nil {
		fmt.Fprintln(os.Stderr, "uptane-hil merge:", err)
		return 1
	}
	failed := writeSummary(os.Stdout, m.Results)
	reports.WriteUnstable(os.Stdout, m)
	fmt.Printf("\nmerged %d shards: %s, %s of wall time from the first start to the last end; reports in %s: report.html, report.json, junit.xml\n",
		len(shards), runsText(m.Summary), m.Finished.Sub(m.Started).Round(time.Millisecond), *out)
	if failed > 0 || len(m.Unstable) > 0 {
		return 1
	}
	return 0
}
