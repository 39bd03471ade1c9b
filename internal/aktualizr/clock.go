package aktualizr

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
)

// aktualizr-secondary judges metadata expiry by its system clock
// (TimeStamp::Now()); the protocol carries no attested time. To play freeze
// and time scenarios against it, the harness moves that clock with Debian's
// libfaketime (package faketime): the library is preloaded into the
// Secondary, reads the fake time from a file (FAKETIME_TIMESTAMP_FILE) and,
// with FAKETIME_NO_CACHE=1, reads it again on every clock call, so the
// harness moves the clock of the running process by rewriting that file.
// Observed with aktualizr-secondary e5118a7: an absolute time
// ("2030-01-02 03:04:05", frozen) and an offset ("+172800s", ticking) both
// take effect on its next message; neither disturbs its TCP server or its
// SQLite storage.

// FakeTimeLib is where Debian 12's faketime package installs the library;
// EnvFakeTimeLib overrides it.
const (
	FakeTimeLib    = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
	EnvFakeTimeLib = "UPTANE_HIL_FAKETIME_LIB"
)

// ClockFile is the name of the fake-time file in the Secondary's directory.
const ClockFile = "faketime"

// FakeTimeLibrary returns the path of libfaketime, or an error saying how to
// install it.
func FakeTimeLibrary() (string, error) {
	p := os.Getenv(EnvFakeTimeLib)
	if p == "" {
		p = FakeTimeLib
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("aktualizr: libfaketime not found at %s (apt-get install faketime, or set %s): %w", p, EnvFakeTimeLib, err)
	}
	return p, nil
}

// fakeTimeEnv returns the environment that puts the process on the clock
// file, and writes the file (real time until SetTime or SetOffset).
func fakeTimeEnv(dir string) ([]string, error) {
	lib, err := FakeTimeLibrary()
	if err != nil {
		return nil, err
	}
	f := filepath.Join(dir, ClockFile)
	if err := atomicfile.Write(f, []byte("+0s\n"), 0o600); err != nil {
		return nil, fmt.Errorf("aktualizr: clock file: %w", err)
	}
	return []string{"LD_PRELOAD=" + lib, "FAKETIME_TIMESTAMP_FILE=" + f, "FAKETIME_NO_CACHE=1",
		// its own threads wait with pthread_cond_timedwait: keep those on
		// real time (libfaketime would otherwise rescale them)
		"FAKETIME_DONT_FAKE_MONOTONIC=1"}, nil
}

// ErrNoClock: the process was not started with FakeTime.
var ErrNoClock = fmt.Errorf("aktualizr: the Secondary was not started with a fake clock (Options.FakeTime)")

// SetTime stops the Secondary's clock at t (UTC, whole seconds): every
// clock reading of the process returns t until the next SetTime or
// SetOffset. The harness calls it before each message with its own clock's
// time, so the Secondary judges expiry at the harness's (simulated) now.
func (p *Process) SetTime(t time.Time) error {
	return p.writeClock(t.UTC().Format("2006-01-02 15:04:05"))
}

// SetOffset lets the Secondary's clock run d ahead of real time (behind if
// negative): a wall-clock run whose harness clock jumped forward.
func (p *Process) SetOffset(d time.Duration) error {
	return p.writeClock(fmt.Sprintf("%+ds", int64(d/time.Second)))
}

func (p *Process) writeClock(v string) error {
	if !p.Opts.FakeTime {
		return ErrNoClock
	}
	return atomicfile.Write(filepath.Join(p.Opts.Dir, ClockFile), []byte(v+"\n"), 0o600)
}
