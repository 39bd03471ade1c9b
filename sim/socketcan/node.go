package socketcan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

type node struct {
	bus  *Bus
	name string
	sock int
	// f holds the socket (non-blocking) in the Go runtime's network poller:
	// a Recv waiting for a frame parks its goroutine instead of an OS
	// thread, and Close wakes it. nil for UnboundNode.
	f       *os.File
	rc      syscall.RawConn
	mu      sync.Mutex
	closed  bool
	rmu     sync.Mutex
	rb      batch     // frames read by one recvmmsg, handed out one by one (guarded by rmu)
	stamped bool      // SO_TIMESTAMPNS is on (taps)
	oob     []byte    // control messages of a stamped read (guarded by rmu)
	dl      time.Time // the read deadline set on f (guarded by rmu)
	wmu     sync.Mutex
	wb      batch // frames of one sendmmsg (guarded by wmu)
	// write's system call and its arguments and results (guarded by wmu)
	wfn             func(fd uintptr) bool
	wdone, wcnt, wk int
	werr            error
	// On a simulated clock (Bus.ext): the frames the pump injected, the
	// filters applied here, a tap's callback, and (guarded by bus.mu)
	// whether the node still receives and how many held frames it owes.
	rx      *clock.Queue[can.Frame]
	filters []can.Filter
	tap     func(can.Event)
	alive   bool
	expect  int
}

// batchLen is how many frames one recvmmsg or sendmmsg moves at most.
const batchLen = 64

// batch is the buffers of one recvmmsg or sendmmsg: batchLen frames of up
// to canfd_frame size, and for reading, how many were read and which is
// next.
type batch struct {
	buf  []byte
	iov  []unix.Iovec
	hdr  []unix.Mmsghdr
	n, i int
}

func (b *batch) init() {
	if b.buf != nil {
		return
	}
	b.buf = make([]byte, batchLen*can.SocketCANFDMTU)
	b.iov = make([]unix.Iovec, batchLen)
	b.hdr = make([]unix.Mmsghdr, batchLen)
	for i := range b.hdr {
		b.iov[i].Base = &b.buf[i*can.SocketCANFDMTU]
		b.iov[i].SetLen(can.SocketCANFDMTU)
		b.hdr[i].Hdr.Iov = &b.iov[i]
		b.hdr[i].Hdr.SetIovlen(1)
	}
}

// frame returns the bytes of frame i of the batch (after a read).
func (b *batch) frame(i int) []byte {
	return b.buf[i*can.SocketCANFDMTU : i*can.SocketCANFDMTU+int(b.hdr[i].Len)]
}

// mmsg is recvmmsg or sendmmsg of the messages hdr, without waiting; it
// returns how many were moved. It never blocks (MSG_DONTWAIT), so it is a
// raw system call: the runtime does not hand this thread's processor to
// another thread meanwhile (on one CPU, such a hand-over per batch costs
// more than the batch).
func mmsg(trap uintptr, fd uintptr, hdr []unix.Mmsghdr) (int, error) {
	r, _, e := unix.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&hdr[0])), uintptr(len(hdr)), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
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

// check refuses a frame this node cannot send.
func (n *node) check(f can.Frame) error {
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
	return nil
}

func (n *node) Send(f can.Frame) error {
	if err := n.check(f); err != nil {
		return err
	}
	var held []*node
	if n.bus.ext != nil {
		held = n.hold()
	}
	n.wmu.Lock()
	n.wb.init()
	k := can.PutSocketCAN(n.wb.buf, f, false, binary.NativeEndian)
	n.wb.iov[0].SetLen(k)
	_, err := n.write(1)
	n.wmu.Unlock()
	if err != nil {
		if n.bus.ext != nil {
			n.unhold(held)
		}
		return fmt.Errorf("socketcan %s: node %s: send %s: %w", n.bus.ifname, n.name, f, err)
	}
	return nil
}

// SendBatch sends frames with one sendmmsg per batchLen of them (on a
// simulated clock, one Send each: every frame takes its holds).
func (n *node) SendBatch(frames []can.Frame) (int, error) {
	if n.bus.ext != nil {
		for i, f := range frames {
			if err := n.Send(f); err != nil {
				return i, err
			}
		}
		return len(frames), nil
	}
	sent := 0
	for sent < len(frames) {
		chunk := frames[sent:min(len(frames), sent+batchLen)]
		for _, f := range chunk {
			if err := n.check(f); err != nil {
				return sent, err
			}
		}
		n.wmu.Lock()
		n.wb.init()
		for i, f := range chunk {
			k := can.PutSocketCAN(n.wb.buf[i*can.SocketCANFDMTU:], f, false, binary.NativeEndian)
			n.wb.iov[i].SetLen(k)
		}
		k, err := n.write(len(chunk))
		n.wmu.Unlock()
		sent += k
		if err != nil {
			return sent, fmt.Errorf("socketcan %s: node %s: send %s: %w", n.bus.ifname, n.name, frames[sent], err)
		}
	}
	return sent, nil
}

// write sends the first cnt frames of n.wb (n.wmu held), waiting while the
// interface's transmit queue is full; it returns how many were sent.
func (n *node) write(cnt int) (int, error) {
	if n.wfn == nil {
		// made once: a closure per call would be allocated per call
		n.wfn = func(fd uintptr) bool {
			n.wk, n.werr = mmsg(unix.SYS_SENDMMSG, fd, n.wb.hdr[n.wdone:n.wcnt])
			return n.werr != unix.EAGAIN
		}
	}
	done := 0
	for done < cnt {
		n.wdone, n.wcnt, n.wk, n.werr = done, cnt, 0, nil
		err := n.rc.Write(n.wfn)
		if err == nil {
			err = n.werr
		}
		done += n.wk
		if errors.Is(err, unix.ENOBUFS) {
			time.Sleep(100 * time.Microsecond) // the interface's TX queue is full
			continue
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return done, n.closedErr(err)
		}
	}
	return done, nil
}

// closedErr turns the runtime's error for a closed file into can.ErrClosed.
func (n *node) closedErr(err error) error {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return can.ErrClosed
	}
	return err
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

// buffered hands out the next data frame of the last recvmmsg (n.rmu
// held); error frames and malformed reads are not data.
func (n *node) buffered() (can.Frame, bool) {
	for n.rb.i < n.rb.n {
		b := n.rb.frame(n.rb.i)
		n.rb.i++
		if f, err := Decode(b); err == nil {
			return f, true
		}
	}
	return can.Frame{}, false
}

// recvSocket reads the next data frame from the socket, on wall-clock time;
// on a stamped node (a tap) it also returns the kernel's receive timestamp
// (zero when the kernel gave none). Unstamped nodes read up to batchLen
// frames with one recvmmsg and hand them out one by one.
func (n *node) recvSocket(timeout time.Duration) (can.Frame, time.Time, error) {
	n.rmu.Lock()
	// the frames of the last recvmmsg first: no clock read, no deferred call
	if f, ok := n.buffered(); ok {
		n.rmu.Unlock()
		return f, time.Time{}, nil
	}
	defer n.rmu.Unlock()
	if n.f == nil {
		return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrClosed)
	}
	n.rb.init()
	if n.stamped && n.oob == nil {
		n.oob = make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		var (
			m, oobn int
			rerr    error
		)
		read := func(fd uintptr) bool {
			if n.stamped {
				m, oobn, _, _, rerr = unix.Recvmsg(int(fd), n.rb.buf[:can.SocketCANFDMTU], n.oob, unix.MSG_DONTWAIT)
			} else {
				m, rerr = mmsg(unix.SYS_RECVMMSG, fd, n.rb.hdr)
			}
			return rerr != unix.EAGAIN
		}
		var err error
		if timeout >= 0 && !time.Now().Before(deadline) {
			// no time left: take what is there, without waiting
			err = n.rc.Control(func(fd uintptr) { read(fd) })
		} else {
			if !deadline.Equal(n.dl) {
				n.f.SetReadDeadline(deadline)
				n.dl = deadline
			}
			err = n.rc.Read(read)
		}
		if err == nil {
			err = rerr
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) || (err != nil && errors.Is(err, unix.EAGAIN)):
			return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrTimeout)
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			if err = n.closedErr(err); errors.Is(err, can.ErrClosed) {
				return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: %w", n.bus.ifname, n.name, can.ErrClosed)
			}
			return can.Frame{}, time.Time{}, fmt.Errorf("socketcan %s: node %s: read: %w", n.bus.ifname, n.name, err)
		}
		if n.stamped {
			f, err := Decode(n.rb.buf[:m])
			if err != nil {
				continue
			}
			return f, stampOf(n.oob[:oobn]), nil
		}
		n.rb.n, n.rb.i = m, 0
		if f, ok := n.buffered(); ok {
			return f, time.Time{}, nil
		}
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
	if n.f != nil {
		n.f.Close() // wakes a pending Recv
	}
	return nil
}
