package vehicle

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/uptane-hil/uptane-hil/ecus/store"
)

// CrashEnv is the environment variable that makes an ECU process lose
// power for real at a crash point of its store (power-loss tests):
// "GLOB[#N]" kills the process with SIGKILL the N-th time (default 1) it
// passes a crash point matching GLOB (path.Match, e.g. "install:switch:*"
// or "install:slot-*:after"; docs/architecture.md, "ECU state and power
// loss").
const CrashEnv = "UPTANE_HIL_CRASH_AT"

// CrashAt parses a CrashEnv value into a crash function that kills this
// process with SIGKILL: no deferred function, no buffered write, no
// cleanup runs, as when the power goes. Empty: nil.
func CrashAt(spec string) (store.CrashFunc, error) {
	if spec == "" {
		return nil, nil
	}
	glob, nth, ok := strings.Cut(spec, "#")
	n := 1
	if ok {
		var err error
		if n, err = strconv.Atoi(nth); err != nil || n < 1 {
			return nil, fmt.Errorf("vehicle: %s=%q: the count after # must be a positive number", CrashEnv, spec)
		}
	}
	if _, err := path.Match(glob, ""); err != nil || glob == "" {
		return nil, fmt.Errorf("vehicle: %s=%q: want GLOB[#N] with GLOB a crash point pattern such as install:switch:after", CrashEnv, spec)
	}
	var mu sync.Mutex
	seen := 0
	return func(point string) {
		if m, _ := path.Match(glob, point); !m {
			return
		}
		mu.Lock()
		seen++
		hit := seen == n
		mu.Unlock()
		if hit {
			fmt.Fprintf(os.Stderr, "power loss at crash point %s\n", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}, nil
}
