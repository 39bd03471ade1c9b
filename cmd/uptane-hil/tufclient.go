package main

import (
	"os"

	"github.com/uptane-hil/uptane-hil/uptane/tufclient"
)

func init() {
	register("tuf-client", "client under test for the TUF conformance suite (init, refresh, download)",
		func(args []string) int { return tufclient.Main(args, os.Stdout, os.Stderr) })
}
