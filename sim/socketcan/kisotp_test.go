package socketcan_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// The Linux can-isotp socket API (include/uapi/linux/can/isotp.h).
const (
	solCANISOTP         = unix.SOL_CAN_BASE + unix.CAN_ISOTP
	isotpOpts           = 1 // struct can_isotp_options
	isotpRecvFC         = 2 // struct can_isotp_fc_options
	isotpLLOpts         = 5 // struct can_isotp_ll_options
	isotpWaitTxDone     = 0x400
	isotpFrameTxtimeNil = 0xFFFFFFFF // CAN_ISOTP_FRAME_TXTIME_ZERO
	canfdBRS            = 0x01

	// kernelMaxPDU is MAX_MSG_LENGTH in net/can/isotp.c of Linux 5.18 to
	// 6.3, Debian 12's 6.1 among them (from 6.4 on it is the module
	// parameter max_pdu_size, default 8300).
	kernelMaxPDU = 66000
)

// kernelISOTP is a Linux can-isotp socket: tx is the identifier it sends
// on, rx the one it receives.
type kernelISOTP struct{ fd int }

type kernelOpts struct {
	fd        bool // CAN FD link layer: mtu 72, tx_dl 64, BRS
	txtime0   bool // no frame_txtime gap between consecutive frames (default 50 µs)
	waitTx    bool // write returns when the whole message is sent
	bs, stmin uint8
}

func openKernelISOTP(ifname string, tx, rx uint32, o kernelOpts) (*kernelISOTP, error) {
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	s, err := unix.Socket(unix.AF_CAN, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.CAN_ISOTP)
	if err != nil {
		return nil, fmt.Errorf("kernel can-isotp socket: %w (is the can-isotp module loaded? `modprobe can-isotp`)", err)
	}
	k := &kernelISOTP{fd: s}
	fail := func(what string, err error) (*kernelISOTP, error) {
		unix.Close(s)
		return nil, fmt.Errorf("kernel can-isotp %s: %w", what, err)
	}
	var opts [12]byte // flags, frame_txtime, ext_address, txpad, rxpad, rx_ext_address
	var flags uint32
	if o.waitTx {
		flags |= isotpWaitTxDone
	}
	binary.NativeEndian.PutUint32(opts[0:], flags)
	if o.txtime0 {
		binary.NativeEndian.PutUint32(opts[4:], isotpFrameTxtimeNil)
	}
	if err := unix.SetsockoptString(s, solCANISOTP, isotpOpts, string(opts[:])); err != nil {
		return fail("CAN_ISOTP_OPTS", err)
	}
	if err := unix.SetsockoptString(s, solCANISOTP, isotpRecvFC, string([]byte{o.bs, o.stmin, 0})); err != nil {
		return fail("CAN_ISOTP_RECV_FC", err)
	}
	if o.fd {
		if err := unix.SetsockoptString(s, solCANISOTP, isotpLLOpts, string([]byte{72, 64, canfdBRS})); err != nil {
			return fail("CAN_ISOTP_LL_OPTS", err)
		}
	}
	if err := unix.Bind(s, &unix.SockaddrCAN{Ifindex: iface.Index, TxID: tx, RxID: rx}); err != nil {
		return fail("bind", err)
	}
	return k, nil
}

func (k *kernelISOTP) Send(msg []byte) error {
	_, err := unix.Write(k.fd, msg)
	return err
}

// Recv returns the next message, or an error after timeout.
func (k *kernelISOTP) Recv(timeout time.Duration) ([]byte, error) {
	fds := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline)/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("kernel can-isotp: nothing received in %s", timeout)
		}
		buf := make([]byte, kernelMaxPDU+1)
		m, err := unix.Read(k.fd, buf)
		if err != nil {
			return nil, err // the kernel reports reception errors (ETIMEDOUT, EILSEQ, ...) here
		}
		return buf[:m], nil
	}
}

func (k *kernelISOTP) Close() error { return unix.Close(k.fd) }
