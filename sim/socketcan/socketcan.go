// Package socketcan is the can.Bus interface on Linux SocketCAN: a virtual
// vcan interface, or can0 behind a USB-CAN adapter (gs_usb/candleLight,
// PEAK, slcan). Every node is a CAN_RAW socket bound to the interface, with
// the node's filters installed in the kernel (CAN_RAW_FILTER); on an FD
// interface (MTU 72) sockets take CAN FD frames (CAN_RAW_FD_FRAMES).
//
// Classic and FD frames go through one code path on golang.org/x/sys/unix
// (struct can_frame and struct canfd_frame); go.einride.tech/can's socketcan
// package speaks classic frames only, so it would split the path in two.
// SocketCAN runs on wall-clock time, or on a simulated clock when every node
// on the interface belongs to the run (WithClock): see clock.External.
package socketcan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// solCANRaw is the socket option level of CAN_RAW (linux/can/raw.h).
const solCANRaw = unix.SOL_CAN_BASE + unix.CAN_RAW

// RecvBuffer is the receive buffer each node asks for (SO_RCVBUFFORCE as
// root, else SO_RCVBUF up to the system's limit).
var RecvBuffer = 32 << 20

// Bus is one SocketCAN interface.
type Bus struct {
	ifname  string
	ifindex int
	fd      bool
	clk     clock.Clock
	mu      sync.Mutex
	nodes   []*node
	closed  bool
	rcvbuf  int
	// ext is the simulated clock (WithClock); nil on wall-clock time.
	ext clock.External
}

var _ can.Bus = (*Bus)(nil)

// Option changes how Open sets up the bus.
type Option func(*Bus)

// WithRecvBuffer sets the receive buffer each node asks for (bytes; default
// RecvBuffer).
func WithRecvBuffer(bytes int) Option { return func(b *Bus) { b.rcvbuf = bytes } }

// WithClock runs the bus on clock c. On a simulated clock (which must be a
// clock.External) every frame still crosses the kernel, but simulated time
// stands still while it is in flight: a node's Send holds the clock once
// for each other node of this bus, each node's reader injects the frame
// into the run when the kernel hands it over, and node filters are applied
// in this process (every node reads every frame, so none is held in vain).
// Every node on the interface must belong to this run: a frame from another
// process or a wire arrives whenever it arrives, unheld. On Wall (the
// default) nothing changes.
func WithClock(c clock.Clock) Option {
	return func(b *Bus) {
		b.clk = c
		if ext, ok := c.(clock.External); ok && c.Simulated() {
			b.ext = ext
		}
	}
}

// Hooks for the specs (a kernel without CAN cannot produce the other errors).
var (
	socketFn = unix.Socket
	lookupFn = net.InterfaceByName
)

// Fix texts: what to run when SocketCAN or the interface is missing.
const (
	fixVcan   = "modprobe vcan; ip link add dev %[1]s type vcan; ip link set up %[1]s"
	fixVcanFD = "modprobe vcan; ip link add dev %[1]s type vcan; ip link set %[1]s mtu 72; ip link set up %[1]s"
	fixReal   = "ip link set %[1]s up type can bitrate 500000 dbitrate 2000000 fd on"
)

// Open opens interface ifname (vcan0, can0, ...). It explains how to fix a
// kernel without CAN, a missing interface, an interface that is down and
// one that is not a CAN interface.
func Open(ifname string, opts ...Option) (*Bus, error) {
	if ifname == "" {
		return nil, fmt.Errorf("socketcan: empty interface name: name a CAN interface such as vcan0 or can0")
	}
	s, err := socketFn(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT) {
			return nil, fmt.Errorf("socketcan: %s: this kernel has no SocketCAN (socket(AF_CAN, CAN_RAW): %v): load it with `modprobe can; modprobe can-raw` (and for a virtual bus `"+fixVcan+"`); where the kernel has no CAN modules at all (a container), run the vcan specs in the VM with `make test-vcan`", ifname, err)
		}
		return nil, fmt.Errorf("socketcan: %s: open a CAN_RAW socket: %w", ifname, err)
	}
	unix.Close(s)
	iface, err := lookupFn(ifname)
	if err != nil {
		return nil, fmt.Errorf("socketcan: no interface %q (%v): create a virtual one with `"+fixVcan+"` (for CAN FD: `"+fixVcanFD+"`), or plug in the USB-CAN adapter and `"+fixReal+"`", ifname, err)
	}
	if iface.MTU != can.SocketCANMTU && iface.MTU != can.SocketCANFDMTU {
		return nil, fmt.Errorf("socketcan: %s has MTU %d, so it is not a CAN interface (CAN: 16, CAN FD: 72); name a vcan or can interface (`ip -details link show` lists them)", ifname, iface.MTU)
	}
	if iface.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("socketcan: interface %[1]s is down: `ip link set up %[1]s` (a CAN adapter: `"+fixReal+"`)", ifname)
	}
	b := &Bus{ifname: ifname, ifindex: iface.Index, fd: iface.MTU == can.SocketCANFDMTU, clk: clock.NewWall(), rcvbuf: RecvBuffer}
	for _, o := range opts {
		o(b)
	}
	if b.clk.Simulated() && b.ext == nil {
		return nil, fmt.Errorf("socketcan: %s: a simulated clock for SocketCAN must implement clock.External (%T does not)", ifname, b.clk)
	}
	return b, nil
}

func (b *Bus) Name() string { return b.ifname }
func (b *Bus) FD() bool     { return b.fd }

// Attach opens a CAN_RAW socket with the node's filters.
func (b *Bus) Attach(name string, filters ...can.Filter) (can.Node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("socketcan %s: attach %s: %w", b.ifname, name, can.ErrClosed)
	}
	n, err := b.open(name, filters)
	if err != nil {
		return nil, err
	}
	b.nodes = append(b.nodes, n)
	if b.ext != nil {
		n.rx = clock.NewQueue[can.Frame](b.clk, 0)
		go n.pump()
	}
	return n, nil
}

func (b *Bus) open(name string, filters []can.Filter) (*node, error) {
	s, err := socketFn(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.CAN_RAW)
	if err != nil {
		return nil, fmt.Errorf("socketcan %s: node %s: open a CAN_RAW socket: %w", b.ifname, name, err)
	}
	fail := func(what string, err error) (*node, error) {
		unix.Close(s) // not yet an *os.File
		return nil, fmt.Errorf("socketcan %s: node %s: %s: %w", b.ifname, name, what, err)
	}
	if len(filters) > 0 && b.ext == nil {
		raw := make([]byte, 8*len(filters))
		for i, f := range filters {
			id, mask := f.ID, f.Mask
			if f.Extended {
				id |= can.EFFFlag
				mask |= can.EFFFlag
			} else {
				mask |= can.EFFFlag // standard frames only
			}
			mask |= can.RTRFlag // data frames only
			binary.NativeEndian.PutUint32(raw[8*i:], id)
			binary.NativeEndian.PutUint32(raw[8*i+4:], mask)
		}
		if err := unix.SetsockoptString(s, solCANRaw, unix.CAN_RAW_FILTER, string(raw)); err != nil {
			return fail("set filters", err)
		}
	}
	// A large receive buffer: vcan has no flow control, and a slow reader
	// (an emulated CPU) must not lose frames to a socket overrun.
	if b.rcvbuf > 0 && unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, b.rcvbuf) != nil {
		unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, b.rcvbuf)
	}
	if b.fd {
		if err := unix.SetsockoptInt(s, solCANRaw, unix.CAN_RAW_FD_FRAMES, 1); err != nil {
			return fail("enable CAN FD frames", err)
		}
	}
	if err := unix.Bind(s, &unix.SockaddrCAN{Ifindex: b.ifindex}); err != nil {
		return fail("bind", err)
	}
	// non-blocking, in the runtime's network poller: a waiting Recv parks
	// a goroutine, not an OS thread
	f := os.NewFile(uintptr(s), fmt.Sprintf("can:%s:%s", b.ifname, name))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("socketcan %s: node %s: %w", b.ifname, name, err)
	}
	return &node{bus: b, name: name, sock: s, f: f, rc: rc, filters: filters, alive: true}, nil
}

// Tap reads every frame on the interface with its own CAN_RAW socket: the
// frames of every socket on this host (the kernel loops them back) and of
// the other controllers on the wire. The sender is "" (SocketCAN does not
// say). On wall-clock time the time is the kernel's receive timestamp
// (SO_TIMESTAMPNS): on vcan it is taken inside the sender's write, on a CAN
// adapter when the driver hands the frame up, so the gaps between events
// are the gaps on the bus, not those of this reader's scheduling; a frame
// the kernel gave no timestamp gets the time it was read. On a simulated
// clock (WithClock) it is the simulated time the frame entered the run.
// Close ends the tap too. The
// interface has no way to report an error: when the socket cannot be opened
// (the bus is closed, or Open succeeded and the kernel then lost CAN) the
// tap sees nothing.
func (b *Bus) Tap(fn func(can.Event)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return func() {}
	}
	n, err := b.open("tap", nil)
	if err != nil {
		return func() {}
	}
	b.nodes = append(b.nodes, n)
	if b.ext != nil {
		n.tap = fn
		go n.pump()
		return func() { n.Close() }
	}
	n.stamped = unix.SetsockoptInt(n.sock, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
	go func() {
		for {
			f, at, err := n.recvSocket(clock.Forever)
			if err != nil {
				return
			}
			if at.IsZero() {
				at = b.clk.Now()
			}
			fn(can.Event{Time: at, Frame: f})
		}
	}()
	return func() { n.Close() }
}

// Close closes every node.
func (b *Bus) Close() error {
	b.mu.Lock()
	nodes := b.nodes
	b.nodes, b.closed = nil, true
	b.mu.Unlock()
	for _, n := range nodes {
		n.Close()
	}
	return nil
}
