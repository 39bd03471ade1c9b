package main

import (
	"os"
	"testing"
)

// cliEnv makes the test binary the uptane-hil command: the vcan specs start
// it (os.Executable) as repo, ecu and vehicle processes, and vehicle starts
// its ECU children the same way (they inherit the variable). The VM that
// runs the vcan specs has the test binaries only, no uptane-hil binary.
// run -p N starts its workers from the same binary with envWorker set.
const cliEnv = "UPTANE_HIL_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" || os.Getenv(envWorker) == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
