package kisotp_test

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/kisotp"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + n)
	}
	return b
}

var _ = Describe("opening a kernel can-isotp channel", func() {
	vcan := func(mtu int) func(string) (*net.Interface, error) {
		return func(string) (*net.Interface, error) {
			return &net.Interface{Index: 7, MTU: mtu, Name: "vcan9", Flags: net.FlagUp}, nil
		}
	}

	It("names the interface when it does not exist", func() {
		defer kisotp.FakeKernel(nil, func(string) (*net.Interface, error) { return nil, errors.New("no such network interface") })()
		_, err := kisotp.Open("vcan9", isotp.Options{TxID: 0x7E0, RxID: 0x7E8})
		Expect(err).To(MatchError(ContainSubstring(`kernel can-isotp: no interface "vcan9"`)))
		Expect(errors.Is(err, isotp.ErrBus)).To(BeTrue())
	})

	It("says how to load can-isotp when the kernel has no such socket", func() {
		defer kisotp.FakeKernel(func(int, int, int) (int, error) { return -1, unix.EPROTONOSUPPORT }, vcan(16))()
		_, err := kisotp.Open("vcan9", isotp.Options{TxID: 0x7E0, RxID: 0x7E8})
		Expect(err).To(MatchError(ContainSubstring("kernel can-isotp on vcan9: open a CAN_ISOTP socket (is the can-isotp module loaded? `modprobe can-isotp`)")))
		Expect(errors.Is(err, unix.EPROTONOSUPPORT)).To(BeTrue())
	})

	It("validates the options as our stack does: CAN FD on a classic interface, an identifier too long", func() {
		defer kisotp.FakeKernel(func(int, int, int) (int, error) { panic("no socket for invalid options") }, vcan(16))()
		_, err := kisotp.Open("vcan9", isotp.Options{TxID: 0x7E0, RxID: 0x7E8, FD: true})
		Expect(errors.Is(err, isotp.ErrInvalid)).To(BeTrue(), "%v", err)
		Expect(errors.Is(err, can.ErrNoFD)).To(BeTrue())
		_, err = kisotp.Open("vcan9", isotp.Options{TxID: 0x800, RxID: 0x7E8})
		Expect(err).To(MatchError(ContainSubstring("tx id 0x800 does not fit the identifier format")))
	})

	It("refuses an interface that is not CAN (lo)", func() {
		_, err := kisotp.Open("lo", isotp.Options{TxID: 0x7E0, RxID: 0x7E8})
		Expect(err).To(MatchError(MatchRegexp(`kernel can-isotp: lo has MTU \d+, so it is not a CAN interface`)))
	})
})

// ours opens our ISO-TP on a SocketCAN node of bus.
func ours(bus *socketcan.Bus, opt isotp.Options) *isotp.Conn {
	GinkgoHelper()
	node, err := bus.Attach(fmt.Sprintf("ours-%x", opt.TxID), can.Exact(opt.RxID, opt.Extended))
	Expect(err).NotTo(HaveOccurred())
	c, err := isotp.OnNode(node, bus.FD(), clock.NewWall(), opt)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

func kernel(ifname string, opt isotp.Options) *kisotp.Conn {
	GinkgoHelper()
	c, err := kisotp.Open(ifname, opt)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// exchange sends msg from a to b (each with Send and Recv) and checks it
// arrives whole.
type endpoint interface {
	Send([]byte) error
	Recv(time.Duration) ([]byte, error)
}

func exchange(from, to endpoint, msg []byte) {
	GinkgoHelper()
	done := make(chan error, 1)
	go func() { done <- from.Send(msg) }()
	got, err := to.Recv(60 * time.Second)
	Expect(err).NotTo(HaveOccurred())
	Expect(got).To(Equal(msg), "%d bytes", len(msg))
	Eventually(done).WithTimeout(60 * time.Second).Should(Receive(BeNil()))
}

var _ = Describe("the kernel's can-isotp as a channel (sim/kisotp) with our stack at the other end", Label("vcan"), func() {
	var classic, fd *socketcan.Bus
	BeforeEach(func() {
		var err error
		classic, err = socketcan.Open("vcan0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(classic.Close)
		fd, err = socketcan.Open("vcan1")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(fd.Close)
	})

	sizes := []int{1, 7, 8, 62, 4095, 4096, kisotp.MaxMessage61}

	It("classic CAN on vcan0: 1 byte to 66,000 bytes both ways, with block size and STmin advertised by each side", func() {
		k := kernel("vcan0", isotp.Options{TxID: 0x6E0, RxID: 0x6E8, BlockSize: 8, STmin: 0})
		o := ours(classic, isotp.Options{TxID: 0x6E8, RxID: 0x6E0, BlockSize: 16, MaxRx: 1 << 20})
		for _, n := range sizes {
			exchange(k, o, payload(n))
			exchange(o, k, payload(n + 1)[:n])
		}
	})

	It("CAN FD on vcan1 (TX_DL 64, BRS): the same sizes both ways, and the kernel's frames are FD with BRS", func() {
		var fdFrames, brs atomic.Int64
		stop := fd.Tap(func(ev can.Event) {
			if ev.Frame.ID == 0x6F0 {
				if ev.Frame.FD {
					fdFrames.Add(1)
				}
				if ev.Frame.BRS {
					brs.Add(1)
				}
			}
		})
		defer stop()
		k := kernel("vcan1", isotp.Options{TxID: 0x6F0, RxID: 0x6F8, FD: true, BRS: true, TxDL: 64})
		o := ours(fd, isotp.Options{TxID: 0x6F8, RxID: 0x6F0, FD: true, BRS: true, TxDL: 64, MaxRx: 1 << 20})
		for _, n := range sizes {
			exchange(k, o, payload(n))
			exchange(o, k, payload(n))
		}
		Eventually(brs.Load).WithTimeout(10 * time.Second).Should(BeNumerically(">", 1000))
		Expect(fdFrames.Load()).To(BeNumerically(">=", brs.Load()))
	})

	It("29-bit identifiers (CAN_EFF_FLAG) and extended addressing", func() {
		opt := isotp.Options{TxID: 0x18DA10F1, RxID: 0x18DAF110, Extended: true, Addressing: isotp.ExtendedAddressing, TxAddr: 0x10, RxAddr: 0xF1}
		k := kernel("vcan0", opt)
		o := ours(classic, isotp.Options{TxID: 0x18DAF110, RxID: 0x18DA10F1, Extended: true, Addressing: isotp.ExtendedAddressing, TxAddr: 0xF1, RxAddr: 0x10})
		for _, n := range []int{1, 6, 7, 300} {
			exchange(k, o, payload(n))
			exchange(o, k, payload(n))
		}
	})

	It("reports the kernel's errors as our kinds: FC OVFLW from our receiver, no message in time, a closed channel", func() {
		k := kernel("vcan0", isotp.Options{TxID: 0x6C0, RxID: 0x6C8})
		o := ours(classic, isotp.Options{TxID: 0x6C8, RxID: 0x6C0, MaxRx: 100})
		err := k.Send(payload(101))
		Expect(errors.Is(err, isotp.ErrOverflow)).To(BeTrue(), "%v", err)
		_, err = o.Recv(5 * time.Second)
		Expect(errors.Is(err, isotp.ErrOverflow)).To(BeTrue(), "our side reports it too: %v", err)
		exchange(k, o, payload(100)) // still usable

		t0 := time.Now()
		_, err = k.Recv(200 * time.Millisecond)
		Expect(errors.Is(err, isotp.ErrTimeout)).To(BeTrue(), "%v", err)
		Expect(time.Since(t0)).To(BeNumerically(">=", 200*time.Millisecond))

		got := make(chan error, 1)
		go func() { _, err := k.Recv(-1); got <- err }()
		Consistently(got).WithTimeout(100 * time.Millisecond).ShouldNot(Receive())
		Expect(k.Close()).To(Succeed())
		var rerr error
		Eventually(got).WithTimeout(10 * time.Second).Should(Receive(&rerr))
		Expect(errors.Is(rerr, isotp.ErrClosed)).To(BeTrue(), "%v", rerr)
		Expect(errors.Is(k.Send([]byte{1}), isotp.ErrClosed)).To(BeTrue())
	})

	It("a peer that never answers the first frame: Send fails with N_Bs after the kernel's timeout", func() {
		k := kernel("vcan0", isotp.Options{TxID: 0x6A0, RxID: 0x6A8})
		t0 := time.Now()
		err := k.Send(payload(100))
		var ie *isotp.Error
		Expect(errors.As(err, &ie)).To(BeTrue(), "%v", err)
		Expect(ie.Kind).To(Equal(isotp.KindTimeout))
		Expect(ie.Timer).To(Equal("N_Bs"))
		Expect(time.Since(t0)).To(BeNumerically(">=", 900*time.Millisecond), "the kernel's N_Bs is 1 s")
	})
})
