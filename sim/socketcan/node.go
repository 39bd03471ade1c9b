package socketcan

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

type node struct {
	bus          *Bus
	name         string
	sock         int
	wakeR, wakeW int
	mu           sync.Mutex
	closed       bool
	rmu          sync.Mutex
	buf          [can.SocketCANFDMTU]byte // receive buffer (guarded by rmu)
	stamped      bool                     // SO_TIMESTAMPNS is on (taps)
	oob          []byte                   // control messages of a stamped read (guarded by rmu)
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
