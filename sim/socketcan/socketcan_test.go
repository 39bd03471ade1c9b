package socketcan_test

import (
	"errors"
	"fmt"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

var _ = Describe("SocketCAN frames and errors (any kernel)", func() {
	It("encodes and decodes can_frame and canfd_frame losslessly", func() {
		for _, f := range []can.Frame{
			can.New(0x123, []byte{1, 2, 3}),
			{ID: 0x1ABCDEF0, Extended: true, Len: 8, Data: [64]byte{9, 8, 7, 6, 5, 4, 3, 2}},
			{ID: 0x7FF, Remote: true, Len: 0},
			{ID: 0x18DAF110, Extended: true, FD: true, BRS: true, Len: 64, Data: [64]byte{0: 0xAA, 63: 0x55}},
		} {
			b := socketcan.Encode(f)
			if f.FD {
				Expect(b).To(HaveLen(72))
			} else {
				Expect(b).To(HaveLen(16))
			}
			g, err := socketcan.Decode(b)
			Expect(err).NotTo(HaveOccurred())
			Expect(g).To(Equal(f))
		}
		_, err := socketcan.Decode(make([]byte, 20))
		Expect(err).To(MatchError(ContainSubstring("neither can_frame nor canfd_frame")))
	})

	// A socket the fake kernel hands out: a real descriptor, closed by Open.
	okSocket := func(int, int, int) (int, error) { return unix.Open("/dev/null", unix.O_RDONLY, 0) }
	iface := func(mtu int, flags net.Flags) func(string) (*net.Interface, error) {
		return func(name string) (*net.Interface, error) {
			return &net.Interface{Index: 7, Name: name, MTU: mtu, Flags: flags}, nil
		}
	}

	It("explains how to load SocketCAN on a kernel without AF_CAN", func() {
		DeferCleanup(socketcan.FakeKernel(func(int, int, int) (int, error) { return -1, unix.EAFNOSUPPORT }, nil))
		_, err := socketcan.Open("vcan0")
		Expect(err).To(MatchError(And(
			ContainSubstring("vcan0: this kernel has no SocketCAN"),
			ContainSubstring("address family not supported"),
			ContainSubstring("modprobe can; modprobe can-raw"),
			ContainSubstring("make test-vcan"))))
	})

	It("gives this host's real answer: no SocketCAN here, a missing interface where the kernel has CAN", func() {
		s, sockErr := unix.Socket(unix.AF_CAN, unix.SOCK_RAW, unix.CAN_RAW)
		if sockErr == nil {
			unix.Close(s)
		}
		_, err := socketcan.Open("uptanehil-none0")
		if sockErr != nil {
			Expect(err).To(MatchError(ContainSubstring("uptanehil-none0: this kernel has no SocketCAN")))
		} else {
			Expect(err).To(MatchError(ContainSubstring(`no interface "uptanehil-none0"`)))
		}
	})

	It("explains how to create a missing interface, virtual or real", func() {
		DeferCleanup(socketcan.FakeKernel(okSocket, func(string) (*net.Interface, error) {
			return nil, errors.New("route ip+net: no such network interface")
		}))
		_, err := socketcan.Open("vcan3")
		Expect(err).To(MatchError(And(
			ContainSubstring(`no interface "vcan3"`),
			ContainSubstring("modprobe vcan; ip link add dev vcan3 type vcan; ip link set up vcan3"),
			ContainSubstring("ip link set vcan3 mtu 72"),
			ContainSubstring("ip link set vcan3 up type can bitrate 500000 dbitrate 2000000 fd on"))))
	})

	It("explains how to bring up an interface that is down", func() {
		DeferCleanup(socketcan.FakeKernel(okSocket, iface(16, 0)))
		_, err := socketcan.Open("can0")
		Expect(err).To(MatchError(And(
			ContainSubstring("interface can0 is down"),
			ContainSubstring("ip link set up can0"),
			ContainSubstring("ip link set can0 up type can bitrate 500000 dbitrate 2000000 fd on"))))
	})

	It("refuses an interface that is not CAN", func() {
		DeferCleanup(socketcan.FakeKernel(okSocket, iface(1500, net.FlagUp)))
		_, err := socketcan.Open("eth0")
		Expect(err).To(MatchError(ContainSubstring("eth0 has MTU 1500, so it is not a CAN interface")))
		_, err = socketcan.Open("")
		Expect(err).To(MatchError(ContainSubstring("empty interface name")))
	})

	It("opens classic and FD interfaces by their MTU", func() {
		DeferCleanup(socketcan.FakeKernel(okSocket, iface(16, net.FlagUp)))
		b, err := socketcan.Open("can0")
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Name()).To(Equal("can0"))
		Expect(b.FD()).To(BeFalse())
		DeferCleanup(socketcan.FakeKernel(okSocket, iface(72, net.FlagUp)))
		b, err = socketcan.Open("can1", socketcan.WithRecvBuffer(1<<20))
		Expect(err).NotTo(HaveOccurred())
		Expect(b.FD()).To(BeTrue())
	})

	It("refuses a CAN FD frame on a classic interface and says how to enable FD", func() {
		n := socketcan.UnboundNode("can0", false)
		err := n.Send(can.Frame{ID: 0x7E0, FD: true, Len: 12})
		Expect(errors.Is(err, can.ErrNoFD)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(And(
			ContainSubstring("can0 has MTU 16"),
			ContainSubstring("ip link set can0 mtu 72"),
			ContainSubstring("ip link set can0 up type can bitrate 500000 dbitrate 2000000 fd on"))))
		err = n.Send(can.Frame{ID: 0x800, Len: 1})
		Expect(err).To(MatchError(ContainSubstring("does not fit in 11 bits")))
	})
})

var _ = Describe("SocketCAN on vcan", Label("vcan"), func() {
	var classic, fd *socketcan.Bus
	BeforeEach(func() {
		var err error
		classic, err = socketcan.Open("vcan0")
		Expect(err).NotTo(HaveOccurred())
		fd, err = socketcan.Open("vcan1")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(classic.Close)
		DeferCleanup(fd.Close)
	})

	It("carries classic 11- and 29-bit data and remote frames between two nodes", func() {
		Expect(classic.FD()).To(BeFalse())
		a, _ := classic.Attach("a")
		b, _ := classic.Attach("b")
		sent := []can.Frame{can.New(0x123, []byte{1, 2, 3}), can.New(0x18DAF110, []byte{8, 7, 6, 5, 4, 3, 2, 1}), {ID: 0x456, Remote: true}}
		for _, f := range sent {
			Expect(a.Send(f)).To(Succeed())
		}
		for _, f := range sent {
			got, err := b.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(f))
		}
		_, err := a.Recv(50 * time.Millisecond)
		Expect(errors.Is(err, can.ErrTimeout)).To(BeTrue(), "a node does not receive its own frames: %v", err)
	})

	It("installs filters in the kernel", func() {
		a, _ := classic.Attach("a")
		b, _ := classic.Attach("b", can.Exact(0x7E8, false))
		Expect(a.Send(can.New(0x7E0, []byte{1}))).To(Succeed())
		Expect(a.Send(can.New(0x7E8, []byte{2}))).To(Succeed())
		got, err := b.Recv(time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.ID).To(Equal(uint32(0x7E8)))
		_, err = b.Recv(50 * time.Millisecond)
		Expect(errors.Is(err, can.ErrTimeout)).To(BeTrue())
	})

	It("carries CAN FD frames with BRS on an FD interface and refuses them on a classic one", func() {
		Expect(fd.FD()).To(BeTrue())
		a, _ := fd.Attach("a")
		b, _ := fd.Attach("b")
		f := can.Frame{ID: 0x7E0, FD: true, BRS: true, Len: 64}
		for i := range f.Data {
			f.Data[i] = byte(i)
		}
		Expect(a.Send(f)).To(Succeed())
		got, err := b.Recv(time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(f))
		c, _ := classic.Attach("c")
		Expect(errors.Is(c.Send(f), can.ErrNoFD)).To(BeTrue())
	})

	It("taps every frame and unblocks a pending receive on close", func() {
		seen := make(chan can.Event, 16)
		stop := classic.Tap(func(e can.Event) { seen <- e })
		defer stop()
		a, _ := classic.Attach("a")
		// the tap listens once a frame comes through
		Eventually(func(g Gomega) {
			g.Expect(a.Send(can.New(0x321, []byte{0xDE, 0xAD}))).To(Succeed())
			g.Eventually(seen).WithTimeout(50 * time.Millisecond).Should(Receive(HaveField("Frame.ID", uint32(0x321))))
		}, 10*time.Second).Should(Succeed())
		b, _ := classic.Attach("b")
		done := make(chan error, 1)
		go func() { _, err := b.Recv(-1); done <- err }()
		Consistently(done, 20*time.Millisecond).ShouldNot(Receive(), "Recv(-1) waits while nothing comes")
		Expect(b.Close()).To(Succeed())
		Eventually(done).Should(Receive(MatchError(can.ErrClosed)))
	})

	It("stamps tapped frames with the kernel's time of the sender's write, not the time they were read", func() {
		gate := make(chan struct{})
		seen := make(chan can.Event, 16)
		stop := classic.Tap(func(e can.Event) {
			seen <- e
			if e.Frame.ID == 0x101 {
				<-gate // the tap reads the next frames only when the gate opens
			}
		})
		defer stop()
		defer close(gate)
		a, _ := classic.Attach("a")
		// the tap listens once a frame comes through
		Eventually(func() bool {
			Expect(a.Send(can.New(0x100, nil))).To(Succeed())
			select {
			case <-seen:
				return true
			case <-time.After(50 * time.Millisecond):
				return false
			}
		}, 10*time.Second).Should(BeTrue())
		// drop the listening probes: every frame up to a marker
		Expect(a.Send(can.New(0x0FF, nil))).To(Succeed())
		Eventually(seen, 5*time.Second).Should(Receive(HaveField("Frame.ID", uint32(0x0FF))))
		Expect(seen).NotTo(Receive())
		var before, after []time.Time
		for i := range 3 {
			before = append(before, time.Now())
			Expect(a.Send(can.New(0x101+uint32(i), []byte{byte(i)}))).To(Succeed())
			after = append(after, time.Now())
		}
		// Not a wait for anything: the gap between the writes and the tap's
		// reads that a read-time stamp would fall into.
		time.Sleep(200 * time.Millisecond)
		gate <- struct{}{}
		for i := range 3 {
			var ev can.Event
			Eventually(seen, 5*time.Second).Should(Receive(&ev))
			Expect(ev.Frame.ID).To(Equal(0x101 + uint32(i)))
			Expect(ev.Time).To(BeTemporally(">=", before[i]), "frame %d", i)
			Expect(ev.Time).To(BeTemporally("<=", after[i]), "frame %d: stamped %s after its write returned", i, ev.Time.Sub(after[i]))
		}
	})

	It("explains a missing interface on a kernel with CAN, and Close ends taps and nodes", func() {
		_, err := socketcan.Open("vcan9")
		Expect(err).To(MatchError(And(ContainSubstring(`no interface "vcan9"`),
			ContainSubstring("ip link add dev vcan9 type vcan"))))

		bus, err := socketcan.Open("vcan0")
		Expect(err).NotTo(HaveOccurred())
		seen := make(chan can.Frame, 16)
		bus.Tap(func(e can.Event) { seen <- e.Frame })
		n, err := bus.Attach("n")
		Expect(err).NotTo(HaveOccurred())
		a, _ := classic.Attach("a")
		Expect(a.Send(can.New(0x10, []byte{1}))).To(Succeed())
		Eventually(seen).Should(Receive(HaveField("ID", uint32(0x10))))
		Expect(bus.Close()).To(Succeed())
		_, err = n.Recv(time.Second)
		Expect(errors.Is(err, can.ErrClosed)).To(BeTrue(), "%v", err)
		Expect(a.Send(can.New(0x11, []byte{2}))).To(Succeed())
		Consistently(seen, 200*time.Millisecond).ShouldNot(Receive())
		_, err = bus.Attach("late")
		Expect(errors.Is(err, can.ErrClosed)).To(BeTrue())
	})

	It("passes 10,000 frames in order", func() {
		a, _ := classic.Attach("a")
		b, _ := classic.Attach("b")
		errs := make(chan error, 1)
		go func() {
			for i := 0; i < 10000; i++ {
				f, err := b.Recv(5 * time.Second)
				if err != nil {
					errs <- err
					return
				}
				if got := uint32(f.Data[0])<<8 | uint32(f.Data[1]); got != uint32(i) {
					errs <- fmt.Errorf("frame %d carried %d", i, got)
					return
				}
			}
			errs <- nil
		}()
		for i := 0; i < 10000; i++ {
			Expect(a.Send(can.New(0x100, []byte{byte(i >> 8), byte(i)}))).To(Succeed())
		}
		Eventually(errs, 30*time.Second).Should(Receive(BeNil()))
	})
})
