// Package kisotp is an ISO-TP channel on the Linux kernel's can-isotp: an
// AF_CAN CAN_ISOTP socket (net/can/isotp.c, include/uapi/linux/can/isotp.h)
// bound to a SocketCAN interface, for bench links where engineers trust
// the kernel's stack. It takes the same isotp.Options as our own stack
// (sim/isotp) and returns the same *isotp.Error kinds, so the UDS layer
// runs on either; segmentation, flow control, STmin pacing and the N_*
// timers then happen in the kernel:
//
//   - CAN_ISOTP_OPTS: CAN_ISOTP_WAIT_TX_DONE (Send returns when the whole
//     message is on the bus, or with the transmission's error), padding
//     (TX_PADDING with PadByte; CAN FD frames are padded to a valid length
//     with the same byte, 0xCC by default, as ours), extended addressing
//     (EXTEND_ADDR, RX_EXT_ADDR);
//   - CAN_ISOTP_RECV_FC: the block size, STmin and N_WFTmax we advertise
//     and accept;
//   - CAN_ISOTP_LL_OPTS on CAN FD: MTU 72, TX_DL, BRS;
//   - 29-bit identifiers: CAN_EFF_FLAG on both identifiers of the bind.
//
// The kernel's timers are its own (Linux 6.1: N_Bs and N_Cr 1 s, not
// settable), and so is its largest message (66,000 bytes on Linux
// 5.18–6.3; the module parameter max_pdu_size, default 8300, from 6.4).
// Options.NAs/NAr/NBs/NCr, MaxRx and RxQueue do not apply. A Conn runs on
// wall-clock time only: the kernel's timers cannot follow a simulated
// clock.
package kisotp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
)

// The can-isotp socket API (include/uapi/linux/can/isotp.h).
const (
	solCANISOTP = unix.SOL_CAN_BASE + unix.CAN_ISOTP
	optOpts     = 1 // CAN_ISOTP_OPTS: struct can_isotp_options
	optRecvFC   = 2 // CAN_ISOTP_RECV_FC: struct can_isotp_fc_options
	optLLOpts   = 5 // CAN_ISOTP_LL_OPTS: struct can_isotp_ll_options

	flagExtendAddr = 0x002 // CAN_ISOTP_EXTEND_ADDR
	flagTxPadding  = 0x004 // CAN_ISOTP_TX_PADDING
	flagRxExtAddr  = 0x200 // CAN_ISOTP_RX_EXT_ADDR
	flagWaitTxDone = 0x400 // CAN_ISOTP_WAIT_TX_DONE
	canfdBRS       = 0x01  // CANFD_BRS

	// MaxMessage61 is the largest message of Debian 12's kernel (6.1):
	// MAX_MSG_LENGTH in net/can/isotp.c of Linux 5.18 to 6.3.
	MaxMessage61 = 66000
)

// Conn is one ISO-TP channel on a kernel can-isotp socket.
type Conn struct {
	opt    isotp.Options
	ifname string
	sock   int
	wakeR  int
	wakeW  int

	txmu sync.Mutex // Sends take turns (the kernel would make them wait too)
	rxmu sync.Mutex // one Recv at a time; Close waits for it
	buf  []byte     // receive buffer (guarded by rxmu)

	mu     sync.Mutex
	closed bool
}

// Hooks for the specs (this host's kernel may have no CAN).
var (
	socketFn = unix.Socket
	lookupFn = net.InterfaceByName
)

// Open binds a can-isotp socket on interface ifname with opt (TxID the
// identifier we send on, RxID the one we receive). The error says how to
// load the module when the kernel has CAN but no can-isotp.
func Open(ifname string, opt isotp.Options) (*Conn, error) {
	iface, err := lookupFn(ifname)
	if err != nil {
		return nil, &isotp.Error{Kind: isotp.KindBus, Msg: fmt.Sprintf("kernel can-isotp: no interface %q", ifname), Err: err}
	}
	if iface.MTU != can.SocketCANMTU && iface.MTU != can.SocketCANFDMTU {
		return nil, &isotp.Error{Kind: isotp.KindBus, Msg: fmt.Sprintf("kernel can-isotp: %s has MTU %d, so it is not a CAN interface (CAN: 16, CAN FD: 72)", ifname, iface.MTU)}
	}
	fd := iface.MTU == can.SocketCANFDMTU
	if err := opt.Normalize(fd); err != nil {
		return nil, err
	}
	s, err := socketFn(unix.AF_CAN, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.CAN_ISOTP)
	if err != nil {
		return nil, &isotp.Error{Kind: isotp.KindBus, Msg: fmt.Sprintf("kernel can-isotp on %s: open a CAN_ISOTP socket (is the can-isotp module loaded? `modprobe can-isotp`)", ifname), Err: err}
	}
	fail := func(what string, err error) (*Conn, error) {
		unix.Close(s)
		return nil, &isotp.Error{Kind: isotp.KindBus, Msg: fmt.Sprintf("kernel can-isotp on %s (tx id %#x, rx id %#x): %s", ifname, opt.TxID, opt.RxID, what), Err: err}
	}
	// struct can_isotp_options: flags, frame_txtime, ext_address,
	// txpad_content, rxpad_content, rx_ext_address
	var o [12]byte
	flags := uint32(flagWaitTxDone)
	if opt.Pad {
		flags |= flagTxPadding
	}
	if opt.Addressing == isotp.ExtendedAddressing {
		flags |= flagExtendAddr | flagRxExtAddr
		o[8], o[11] = opt.TxAddr, opt.RxAddr
	}
	o[9] = opt.PadContent()
	o[10] = opt.PadContent()
	binary.NativeEndian.PutUint32(o[0:], flags)
	// frame_txtime 0: the kernel keeps its default gap between CFs
	if err := unix.SetsockoptString(s, solCANISOTP, optOpts, string(o[:])); err != nil {
		return fail("CAN_ISOTP_OPTS", err)
	}
	// struct can_isotp_fc_options: bs, stmin, wftmax
	wft := min(opt.MaxWait, 255)
	fc := []byte{opt.BlockSize, isotp.EncodeSTmin(opt.STmin), byte(wft)}
	if err := unix.SetsockoptString(s, solCANISOTP, optRecvFC, string(fc)); err != nil {
		return fail("CAN_ISOTP_RECV_FC", err)
	}
	if opt.FD {
		// struct can_isotp_ll_options: mtu, tx_dl, tx_flags
		ll := []byte{can.SocketCANFDMTU, byte(opt.TxDL), 0}
		if opt.BRS {
			ll[2] = canfdBRS
		}
		if err := unix.SetsockoptString(s, solCANISOTP, optLLOpts, string(ll)); err != nil {
			return fail("CAN_ISOTP_LL_OPTS", err)
		}
	}
	tx, rx := opt.TxID, opt.RxID
	if opt.Extended {
		tx |= can.EFFFlag
		rx |= can.EFFFlag
	}
	if err := unix.Bind(s, &unix.SockaddrCAN{Ifindex: iface.Index, TxID: tx, RxID: rx}); err != nil {
		return fail("bind", err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fail("wake-up pipe", err)
	}
	return &Conn{opt: opt, ifname: ifname, sock: s, wakeR: p[0], wakeW: p[1], buf: make([]byte, MaxMessage61+1)}, nil
}

// Options returns the channel's options with the defaults filled in.
func (c *Conn) Options() isotp.Options { return c.opt }

func (c *Conn) where() string {
	return fmt.Sprintf("kernel can-isotp on %s, tx id %#x, rx id %#x", c.ifname, c.opt.TxID, c.opt.RxID)
}

// Send transmits msg and returns when the kernel has sent its last frame
// (CAN_ISOTP_WAIT_TX_DONE) or the transmission failed: no flow control in
// time (N_Bs), FC OVFLW, a malformed FC.
func (c *Conn) Send(msg []byte) error {
	if len(msg) == 0 {
		return &isotp.Error{Kind: isotp.KindInvalid, Msg: "empty message (" + c.where() + ")"}
	}
	c.txmu.Lock()
	defer c.txmu.Unlock()
	if c.isClosed() {
		return &isotp.Error{Kind: isotp.KindClosed, Msg: "send on a closed channel (" + c.where() + ")"}
	}
	for {
		_, err := unix.Write(c.sock, msg)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if c.isClosed() {
				return &isotp.Error{Kind: isotp.KindClosed, Msg: "channel closed while sending (" + c.where() + ")"}
			}
			return c.errno("send", len(msg), err)
		}
		return nil
	}
}

// errno maps what the kernel's can-isotp reports (see the comment at the
// top of net/can/isotp.c) to an *isotp.Error.
func (c *Conn) errno(op string, n int, err error) error {
	e := &isotp.Error{Err: err}
	switch {
	case errors.Is(err, unix.ECOMM):
		e.Kind, e.Timer, e.Msg = isotp.KindTimeout, "N_Bs", fmt.Sprintf("N_Bs timeout: no flow control in time (%s)", c.where())
	case errors.Is(err, unix.ETIMEDOUT):
		e.Kind, e.Timer, e.Msg = isotp.KindTimeout, "N_Cr", fmt.Sprintf("N_Cr timeout: a reception stalled (%s)", c.where())
	case errors.Is(err, unix.EMSGSIZE) && op == "send" && n > MaxMessage61:
		e.Kind, e.Msg = isotp.KindInvalid, fmt.Sprintf("a %d-byte message exceeds this kernel's can-isotp limit (%s)", n, c.where())
	case errors.Is(err, unix.EMSGSIZE):
		e.Kind, e.Msg = isotp.KindOverflow, fmt.Sprintf("receiver answered FC OVFLW to a %d-byte message (%s)", n, c.where())
	case errors.Is(err, unix.EINVAL) && op == "send":
		e.Kind, e.Msg = isotp.KindInvalid, fmt.Sprintf("the kernel refused a %d-byte message (larger than its can-isotp limit, %d bytes on Linux 5.18-6.3, max_pdu_size from 6.4?) (%s)", n, MaxMessage61, c.where())
	case errors.Is(err, unix.EILSEQ):
		e.Kind, e.Msg = isotp.KindProtocol, fmt.Sprintf("wrong sequence number; reception aborted (%s)", c.where())
	case errors.Is(err, unix.EBADMSG):
		e.Kind, e.Msg = isotp.KindProtocol, fmt.Sprintf("malformed frame (padding or flow control layout) (%s)", c.where())
	default:
		e.Kind, e.Msg = isotp.KindBus, fmt.Sprintf("%s (%s)", op, c.where())
	}
	return e
}

// Recv returns the next received message; timeout < 0 waits forever. A
// reception the kernel aborted (N_Cr, wrong sequence number) is returned as
// an *isotp.Error; the Conn stays usable.
func (c *Conn) Recv(timeout time.Duration) ([]byte, error) {
	c.rxmu.Lock()
	defer c.rxmu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		if c.isClosed() {
			return nil, &isotp.Error{Kind: isotp.KindClosed, Msg: "receive on a closed channel (" + c.where() + ")"}
		}
		ms := -1
		if timeout >= 0 {
			left := max(time.Until(deadline), 0)
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds := [2]unix.PollFd{{Fd: int32(c.sock), Events: unix.POLLIN}, {Fd: int32(c.wakeR), Events: unix.POLLIN}}
		k, err := unix.Poll(fds[:], ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &isotp.Error{Kind: isotp.KindBus, Msg: "poll (" + c.where() + ")", Err: err}
		}
		if fds[1].Revents != 0 {
			continue // closed: reported above
		}
		if k == 0 {
			if timeout >= 0 && !time.Now().Before(deadline) {
				return nil, &isotp.Error{Kind: isotp.KindTimeout, Msg: fmt.Sprintf("no message within %s (%s)", timeout, c.where())}
			}
			continue
		}
		n, err := unix.Read(c.sock, c.buf)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return nil, c.errno("receive", 0, err)
		}
		return append([]byte(nil), c.buf[:n]...), nil
	}
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close closes the socket; a pending Recv returns KindClosed at once, a
// pending Send when the kernel ends its transmission.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	unix.Write(c.wakeW, []byte{1})
	go func() {
		c.rxmu.Lock() // a pending Recv has seen the wake-up
		c.txmu.Lock() // a pending Send has returned
		unix.Close(c.sock)
		unix.Close(c.wakeR)
		unix.Close(c.wakeW)
		c.txmu.Unlock()
		c.rxmu.Unlock()
	}()
	return nil
}
