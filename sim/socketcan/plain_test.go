package socketcan_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

// plainRaw is a CAN_RAW pair in Go without our node: raw sendmmsg and
// recvmmsg of 64 on sockets outside the runtime's poller, no decoding, no
// per-frame call (canprobe's rawall, in Go). BenchmarkVcanISOTP's
// plain/kernel against raw-floor/kernel is what our node's receive path
// costs beyond the system calls.
type plainRaw struct {
	tx, rx int
	id     uint32
	buf    []byte
	iov    []unix.Iovec
	hdr    []unix.Mmsghdr
}

func openPlainRaw(ifname string, fd bool, id uint32) (*plainRaw, error) {
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	p := &plainRaw{id: id, tx: -1, rx: -1}
	for i, flt := range []uint32{id + 1, id} {
		s, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.CAN_RAW)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("plain CAN_RAW socket on %s: %w", ifname, err)
		}
		if i == 0 {
			p.tx = s
		} else {
			p.rx = s
		}
		raw := make([]byte, 8)
		binary.NativeEndian.PutUint32(raw, flt)
		binary.NativeEndian.PutUint32(raw[4:], can.MaxStdID|can.EFFFlag|can.RTRFlag)
		err = unix.SetsockoptString(s, unix.SOL_CAN_BASE+unix.CAN_RAW, unix.CAN_RAW_FILTER, string(raw))
		if err == nil {
			err = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketcan.RecvBuffer)
		}
		if err == nil && fd {
			err = unix.SetsockoptInt(s, unix.SOL_CAN_BASE+unix.CAN_RAW, unix.CAN_RAW_FD_FRAMES, 1)
		}
		if err == nil {
			err = unix.Bind(s, &unix.SockaddrCAN{Ifindex: iface.Index})
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("plain CAN_RAW socket on %s: %w", ifname, err)
		}
	}
	p.buf = make([]byte, 64*can.SocketCANFDMTU)
	p.iov = make([]unix.Iovec, 64)
	p.hdr = make([]unix.Mmsghdr, 64)
	for i := range p.hdr {
		p.iov[i].Base = &p.buf[i*can.SocketCANFDMTU]
		p.iov[i].SetLen(can.SocketCANFDMTU)
		p.hdr[i].Hdr.Iov = &p.iov[i]
		p.hdr[i].Hdr.SetIovlen(1)
	}
	return p, nil
}

func (p *plainRaw) Close() {
	for _, s := range []int{p.tx, p.rx} {
		if s >= 0 {
			unix.Close(s)
		}
	}
}

// run sends frames (with p's identifier) and reads them all back, within
// 30 s.
func (p *plainRaw) run(frames []can.Frame) error {
	if err := p.send(frames); err != nil {
		return err
	}
	return p.recv(len(frames))
}

// send writes frames with p's identifier.
func (p *plainRaw) send(frames []can.Frame) error {
	deadline := time.Now().Add(30 * time.Second)
	for sent := 0; sent < len(frames); {
		k := min(64, len(frames)-sent)
		for i := range k {
			f := frames[sent+i]
			f.ID = p.id
			l := can.PutSocketCAN(p.buf[i*can.SocketCANFDMTU:], f, false, binary.NativeEndian)
			p.iov[i].SetLen(l)
		}
		for d := 0; d < k; {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(p.tx), uintptr(unsafe.Pointer(&p.hdr[d])), uintptr(k-d), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN && time.Now().Before(deadline) {
				continue
			}
			if e != 0 {
				return e
			}
			d += int(r)
		}
		sent += k
	}
	return nil
}

// recv reads n frames.
func (p *plainRaw) recv(n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for i := range p.iov {
		p.iov[i].SetLen(can.SocketCANFDMTU)
	}
	for got := 0; got < n; {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(p.rx), uintptr(unsafe.Pointer(&p.hdr[0])), uintptr(min(64, n-got)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN && time.Now().Before(deadline) {
			continue
		}
		if e != 0 {
			return e
		}
		got += int(r)
	}
	return nil
}
