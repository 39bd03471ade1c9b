// Command render writes the sample report (reports/internal/sample) in every
// format, to look at the HTML:
//
//	go run ./reports/internal/render -out out [-fail N]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/reports/internal/sample"
)

func main() {
	out := flag.String("out", "out", "output directory")
	fail := flag.Int("fail", 0, "turn this many conformant results into failures")
	std := flag.String("standard", "/work/shared/ref/uptane-standard.md", "the Uptane Standard's markdown")
	flag.Parse()
	md, err := os.ReadFile(*std)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := sample.Report(*fail)
	opt := reports.WithStandard(reports.StandardSections(md))
	if err := reports.WriteAll(*out, r, opt); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.Rename(filepath.Join(*out, "report.html"), filepath.Join(*out, "sample-report.html")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := reports.WriteSummary(os.Stdout, r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
