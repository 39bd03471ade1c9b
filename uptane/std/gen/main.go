// Command gen writes uptane/std's generated data: statements.json (the
// Standard's normative statements, std.Extract under rules.yaml) and
// specs.json (the specs labelled "std:<statement ID>", std.ScanSpecs over the
// module). Run by `go generate ./uptane/std` from the package's folder.
package main

import (
	"fmt"
	"os"

	"github.com/uptane-hil/uptane-hil/uptane/std"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "std/gen:", err)
		os.Exit(1)
	}
}

func run() error {
	st, err := std.Generate()
	if err != nil {
		return err
	}
	if err := os.WriteFile("statements.json", st, 0o644); err != nil {
		return err
	}
	sp, err := std.GenerateSpecs("../..")
	if err != nil {
		return err
	}
	return os.WriteFile("specs.json", sp, 0o644)
}
