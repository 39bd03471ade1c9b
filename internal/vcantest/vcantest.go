// Package vcantest decides what a spec labelled "vcan" does on a host
// without SocketCAN. Such specs need the kernel's AF_CAN and the interfaces
// vcan0 (classic CAN) and vcan1 (CAN FD); `make test` runs them in a qemu VM
// (.ci/vm) and the host run filters them out by label. A plain `go test
// ./...` runs them too: there, on a kernel without CAN, each is skipped with
// the reason (ginkgo Skip, and one line per suite on stdout saying why).
// Where SocketCAN is required — inside the VM, or with
// UPTANE_HIL_REQUIRE_VCAN=1 — a missing CAN fails the spec instead: a
// missing CAN is never a silent pass.
//
// Each suite with vcan specs registers the guard once, at the top level of a
// _test.go file:
//
//	var _ = vcantest.Guard()
package vcantest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	ginkgo "github.com/onsi/ginkgo/v2"
	"golang.org/x/sys/unix"
)

const (
	// Label marks a spec that needs SocketCAN.
	Label = "vcan"
	// RequireEnv, set to 1, turns a missing SocketCAN into a failure.
	RequireEnv = "UPTANE_HIL_REQUIRE_VCAN"
)

// Interfaces are the ones the vcan specs use: vcan0 classic, vcan1 CAN FD.
var Interfaces = []string{"vcan0", "vcan1"}

var (
	once     sync.Once
	missing  error
	announce sync.Once
)

// Missing says why this host cannot run the vcan specs (nil when it can):
// no AF_CAN socket, or vcan0/vcan1 absent or down. Checked once per process.
func Missing() error {
	once.Do(func() { missing = probe() })
	return missing
}

func probe() error {
	fd, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		return fmt.Errorf("this kernel has no CAN (socket(AF_CAN, SOCK_RAW, CAN_RAW): %w)", err)
	}
	unix.Close(fd)
	var absent []string
	for _, name := range Interfaces {
		ifc, err := net.InterfaceByName(name)
		switch {
		case err != nil:
			absent = append(absent, name+" (absent)")
		case ifc.Flags&net.FlagUp == 0:
			absent = append(absent, name+" (down)")
		}
	}
	if len(absent) > 0 {
		return errors.New("no " + strings.Join(absent, ", ") + " (modprobe vcan; ip link add dev vcan0 type vcan; ip link add dev vcan1 type vcan; ip link set vcan1 mtu 72; ip link set up vcan0; ip link set up vcan1)")
	}
	return nil
}

// Required reports whether a missing SocketCAN is a failure here
// (UPTANE_HIL_REQUIRE_VCAN=1, which the VM of `make test-vcan` sets).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Check is what a spec labelled vcan does first: nothing when SocketCAN is
// usable; else Fail (Required) or Skip, with the reason.
func Check() {
	err := Missing()
	if err == nil {
		return
	}
	if Required() {
		ginkgo.Fail(fmt.Sprintf("SocketCAN is required here (%s=1) but %v", RequireEnv, err))
	}
	announce.Do(func() {
		// once per suite process, on stdout: ginkgo prints a skipped
		// spec's reason only with -v
		fmt.Fprintf(os.Stdout, "\nSKIPPED: the specs labelled vcan %s\n", SkipReason(err))
	})
	ginkgo.Skip(SkipReason(err))
}

// SkipReason is the message of a vcan spec skipped for err.
func SkipReason(err error) string {
	return fmt.Sprintf("need SocketCAN, and %v. The vcan specs run in `make test-vcan` (a qemu VM with vcan0 and vcan1); %s=1 makes a missing CAN a failure", err, RequireEnv)
}

// Guard registers, for the suite it is called in, a top-level BeforeEach
// that runs Check before every spec labelled vcan (before the spec's own
// set-up opens a socket). Call it once per suite, at the top level.
func Guard() bool {
	ginkgo.BeforeEach(func() {
		if slices.Contains(ginkgo.CurrentSpecReport().Labels(), Label) {
			Check()
		}
	})
	return true
}
