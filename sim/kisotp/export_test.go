package kisotp

import "net"

// FakeKernel replaces the socket call and the interface lookup until the
// returned function restores them (error paths a host without CAN cannot
// produce, and the one it can).
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
