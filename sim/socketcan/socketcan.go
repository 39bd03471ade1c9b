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
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// SocketCAN can_id flags and frame sizes (linux/can.h).
const (
	effFlag   = 0x80000000
	rtrFlag   = 0x40000000
	errFlag   = 0x20000000
	canMTU    = 16
	canFDMTU  = 72
	fdBRS     = 0x01
	fdESI     = 0x02
	fdFDF     = 0x04
	solCANRaw = unix.SOL_CAN_BASE + unix.CAN_RAW
)

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
	if iface.MTU != canMTU && iface.MTU != canFDMTU {
		return nil, fmt.Errorf("socketcan: %s has MTU %d, so it is not a CAN interface (CAN: 16, CAN FD: 72); name a vcan or can interface (`ip -details link show` lists them)", ifname, iface.MTU)
	}
	if iface.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("socketcan: interface %[1]s is down: `ip link set up %[1]s` (a CAN adapter: `"+fixReal+"`)", ifname)
	}
	b := &Bus{ifname: ifname, ifindex: iface.Index, fd: iface.MTU == canFDMTU, clk: clock.NewWall(), rcvbuf: RecvBuffer}
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
	s, err := socketFn(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		return nil, fmt.Errorf("socketcan %s: node %s: open a CAN_RAW socket: %w", b.ifname, name, err)
	}
	fail := func(what string, err error) (*node, error) {
		unix.Close(s)
		return nil, fmt.Errorf("socketcan %s: node %s: %s: %w", b.ifname, name, what, err)
	}
	if len(filters) > 0 && b.ext == nil {
		raw := make([]byte, 8*len(filters))
		for i, f := range filters {
			id, mask := f.ID, f.Mask
			if f.Extended {
				id |= effFlag
				mask |= effFlag
			} else {
				mask |= effFlag // standard frames only
			}
			mask |= rtrFlag // data frames only
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
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fail("wake-up pipe", err)
	}
	return &node{bus: b, name: name, sock: s, wakeR: p[0], wakeW: p[1], filters: filters, alive: true}, nil
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

type node struct {
	bus          *Bus
	name         string
	sock         int
	wakeR, wakeW int
	mu           sync.Mutex
	closed       bool
	rmu          sync.Mutex
	buf          [canFDMTU]byte // receive buffer (guarded by rmu)
	stamped      bool           // SO_TIMESTAMPNS is on (taps)
	oob          []byte         // control messages of a stamped read (guarded by rmu)
	// On a simulated clock (Bus.ext): the frames the pump injected, the
	// filters applied here, a tap's callback, and (guarded by bus.mu)
	// whether the node still receives and how many held frames it owes.
	rx      *clock.Queue[can.Frame]
	filters []can.Filter
	tap     func(can.Event)
	alive   bool
	expect  int
}

func (n *node) accepts(f can.Frame) bool {
	if len(n.filters) == 0 {
		return true
	}
	for _, flt := range n.filters {
		if flt.Match(&f) {
			return true
		}
	}
	return false
}

// pump reads the node's socket and injects each frame into the simulated
// run, releasing the hold its sender took for this node.
func (n *node) pump() {
	b := n.bus
	for {
		f, _, err := n.recvSocket(clock.Forever)
		if err != nil {
			return // closed
		}
		b.mu.Lock()
		held := n.expect > 0
		if held {
			n.expect--
		}
		b.mu.Unlock()
		b.ext.Inject(func() {
			switch {
			case n.tap != nil:
				n.tap(can.Event{Time: b.clk.Now(), Frame: f})
			case n.accepts(f):
				n.rx.TryPush(f)
			}
			if held {
				b.ext.Release(1)
			}
		})
	}
}

// hold takes one hold on the simulated clock for every other receiving
// node of the bus (they will each read the frame back from the kernel).
func (n *node) hold() []*node {
	b := n.bus
	b.mu.Lock()
	var to []*node
	for _, x := range b.nodes {
		if x != n && x.alive {
			x.expect++
			to = append(to, x)
		}
	}
	b.mu.Unlock()
	b.ext.Hold(len(to))
	return to
}

// unhold gives back the holds of a frame that was not sent.
func (n *node) unhold(to []*node) {
	b := n.bus
	b.mu.Lock()
	k := 0
	for _, x := range to {
		if x.expect > 0 {
			x.expect--
			k++
		}
	}
	b.mu.Unlock()
	b.ext.Release(k)
}

func (n *node) Name() string { return n.name }

// Encode returns the struct can_frame or canfd_frame bytes of f.
func Encode(f can.Frame) []byte {
	id := f.ID
	if f.Extended {
		id |= effFlag
	}
	if f.Remote {
		id |= rtrFlag
	}
	if f.FD {
		b := make([]byte, canFDMTU)
		binary.NativeEndian.PutUint32(b, id)
		b[4] = f.Len
		b[5] = fdFDF
		if f.BRS {
			b[5] |= fdBRS
		}
		if f.ESI {
			b[5] |= fdESI
		}
		copy(b[8:], f.Data[:f.Len])
		return b
	}
	b := make([]byte, canMTU)
	binary.NativeEndian.PutUint32(b, id)
	b[4] = f.Len
	copy(b[8:], f.Data[:8])
	return b
}

// Decode parses a struct can_frame (16 bytes) or canfd_frame (72 bytes).
func Decode(b []byte) (can.Frame, error) {
	var f can.Frame
	if len(b) != canMTU && len(b) != canFDMTU {
		return f, fmt.Errorf("socketcan: a frame of %d bytes is neither can_frame nor canfd_frame", len(b))
	}
	id := binary.NativeEndian.Uint32(b)
	if id&errFlag != 0 {
		return f, fmt.Errorf("socketcan: error frame %#x", id)
	}
	f.Extended = id&effFlag != 0
	f.Remote = id&rtrFlag != 0
	if f.Extended {
		f.ID = id & can.MaxExtID
	} else {
		f.ID = id & can.MaxStdID
	}
	f.Len = b[4]
	if len(b) == canFDMTU {
		f.FD = true
		f.BRS = b[5]&fdBRS != 0
		f.ESI = b[5]&fdESI != 0
		if f.Len > can.MaxFDLen {
			return f, fmt.Errorf("socketcan: CAN FD frame with length %d", f.Len)
		}
	} else if f.Len > can.MaxClassicLen {
		return f, fmt.Errorf("socketcan: classic frame with length %d", f.Len)
	}
	copy(f.Data[:], b[8:8+int(f.Len)])
	return f, nil
}

func (n *node) Send(f can.Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, err)
	}
	if f.FD && !n.bus.fd {
		return fmt.Errorf("socketcan %[1]s: node %[2]s: send %[3]s: %[4]w: %[1]s has MTU 16 (classic CAN only); for CAN FD on vcan: `ip link set %[1]s down; ip link set %[1]s mtu 72; ip link set up %[1]s`, on an adapter: `ip link set %[1]s down; "+fixReal+"`", n.bus.ifname, n.name, f, can.ErrNoFD)
	}
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return fmt.Errorf("socketcan %s: node %s: send: %w", n.bus.ifname, n.name, can.ErrClosed)
	}
	b := Encode(f)
	var held []*node
	if n.bus.ext != nil {
		held = n.hold()
	}
	for {
		_, err := unix.Write(n.sock, b)
		if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
			time.Sleep(100 * time.Microsecond) // the interface's TX queue is full
			continue
		}
		if err != nil {
			if n.bus.ext != nil {
				n.unhold(held)
			}
			return fmt.Errorf("socketcan %s: node %s: send %s: %w", n.bus.ifname, n.name, f, err)
		}
		return nil
	}
}

func (n *node) Recv(timeout time.Duration) (can.Frame, error) {
	if n.rx == nil {
		f, _, err := n.recvSocket(timeout)
		return f, err
	}
	f, err := n.rx.Pop(timeout)
	switch {
	case errors.Is(err, clock.ErrTimeout):
		return f, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrTimeout)
	case err != nil:
		return f, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrClosed)
	}
	return f, nil
}

// recvSocket reads the next data frame from the socket, on wall-clock time;
// on a stamped node (a tap) it also returns the kernel's receive timestamp
// (zero when the kernel gave none).
func (n *node) recvSocket(timeout time.Duration) (can.Frame, time.Time, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	deadline := time.Now().Add(timeout)
	buf := n.buf[:]
	for {
		ms := -1
		if timeout >= 0 {
			left := time.Until(deadline)
			if left < 0 {
				left = 0
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(n.sock), Events: unix.POLLIN}, {Fd: int32(n.wakeR), Events: unix.POLLIN}}
		k, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: poll: %w", n.bus.ifname, n.name, err)
		}
		if fds[1].Revents != 0 {
			return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrClosed)
		}
		if k == 0 {
			if timeout >= 0 && !time.Now().Before(deadline) {
				return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrTimeout)
			}
			continue
		}
		var m int
		var at time.Time
		if n.stamped {
			if n.oob == nil {
				n.oob = make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
			}
			var oobn int
			m, oobn, _, _, err = unix.Recvmsg(n.sock, buf, n.oob, 0)
			if err == nil {
				at = stampOf(n.oob[:oobn])
			}
		} else {
			m, err = unix.Read(n.sock, buf)
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: read: %w", n.bus.ifname, n.name, err)
		}
		f, err := Decode(buf[:m])
		if err != nil {
			continue // error frames and malformed reads are not data
		}
		return f, at, nil
	}
}

// stampOf returns the SCM_TIMESTAMPNS time among the control messages, or
// the zero time.
func stampOf(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		var ts unix.Timespec
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(ts)) {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts)), m.Data)
			return time.Unix(ts.Unix())
		}
	}
	return time.Time{}
}

func (n *node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	if b := n.bus; b.ext != nil {
		b.mu.Lock()
		owed := n.expect
		n.expect, n.alive = 0, false
		b.mu.Unlock()
		b.ext.Release(owed)
		if n.rx != nil {
			n.rx.Close()
		}
	}
	unix.Write(n.wakeW, []byte{1})
	go func() {
		n.rmu.Lock() // wait for a pending Recv to see the wake-up
		unix.Close(n.sock)
		unix.Close(n.wakeR)
		unix.Close(n.wakeW)
		n.rmu.Unlock()
	}()
	return nil
}
