package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
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
		os.Exit(profiled(func() int { return dispatch(os.Args[1:], os.Stdout, os.Stderr) }))
	}
	os.Exit(m.Run())
}

// profileEnv names a directory where every uptane-hil process a spec starts
// writes a CPU profile of itself (<command>-<pid>.cpu.prof): where the VM's
// emulated CPU goes in a DUT run (the runner, the DUT's ecu process).
const profileEnv = "UPTANE_HIL_CPUPROFILE"

func profiled(run func() int) int {
	dir := os.Getenv(profileEnv)
	if dir == "" || len(os.Args) < 2 {
		return run()
	}
	_ = os.MkdirAll(dir, 0o700)
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.cpu.prof", os.Args[1], os.Getpid())))
	if err == nil && pprof.StartCPUProfile(f) == nil {
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	return run()
}
