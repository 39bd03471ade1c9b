// Command render writes the sample report (reports/internal/sample) as HTML,
// to look at it, and prints its summary table:
//
//	go run ./reports/internal/render [-o out/sample-report.html] [-fail N] [-dut] [-all DIR]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

func main() {
	out := flag.String("o", "out/sample-report.html", "the HTML file to write")
	all := flag.String("all", "", "also write report.json, junit.xml and report.html into this folder")
	fail := flag.Int("fail", 0, "turn this many conformant results into failures")
	dut := flag.Bool("dut", false, "the sample played against a device under test (with -fail, lacking the defences of the first N scenarios that apply to it)")
	std := flag.String("standard", "reports/testdata/uptane-standard.md", "the Uptane Standard's markdown")
	flag.Parse()
	if err := run(*out, *all, *std, *fail, *dut); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(out, all, std string, fail int, dut bool) error {
	md, err := os.ReadFile(std)
	if err != nil {
		return err
	}
	r := sample.Report(fail)
	if dut {
		r = sample.DUTReport(sample.DUTDefences()[:min(fail, len(sample.DUTDefences()))]...)
	}
	opt := reports.WithStandard(reports.StandardSections(md))
	var buf bytes.Buffer
	if err := reports.WriteHTML(&buf, r, opt); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if all != "" {
		if err := reports.WriteAll(all, r, opt); err != nil {
			return err
		}
	}
	return reports.WriteSummary(os.Stdout, r)
}
