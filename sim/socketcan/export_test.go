package socketcan

import (
	"net"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// FakeKernel replaces the AF_CAN socket and the interface lookup until the
// returned function restores them (specs for error paths a kernel without
// CAN cannot produce).
func FakeKernel(socket func(domain, typ, proto int) (int, error), lookup func(string) (*net.Interface, error)) (restore func()) {
	s, l := socketFn, lookupFn
	if socket != nil {
		socketFn = socket
	}
	if lookup != nil {
		lookupFn = lookup
	}
	return func() { socketFn, lookupFn = s, l }
}

// UnboundNode is a node of a bus on ifname that never touched a socket.
func UnboundNode(ifname string, fd bool) can.Node {
	return &node{bus: &Bus{ifname: ifname, fd: fd}, name: "n", sock: -1}
}
