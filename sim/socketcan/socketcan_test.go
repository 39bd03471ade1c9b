package socketcan_test

import (
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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

	It("explains how to fix a kernel without CAN or a missing interface", func() {
		_, err := socketcan.Open("uptanehil-none0")
		Expect(err).To(HaveOccurred())
		// This host kernel has no AF_CAN; inside the VM the interface is missing.
		Expect(err.Error()).To(Or(
			ContainSubstring("this kernel has no SocketCAN"),
			ContainSubstring("ip link add dev uptanehil-none0 type vcan")))
		Expect(err.Error()).To(ContainSubstring("uptanehil-none0"))
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
		time.Sleep(20 * time.Millisecond)
		Expect(a.Send(can.New(0x321, []byte{0xDE, 0xAD}))).To(Succeed())
		Eventually(seen).Should(Receive(HaveField("Frame.ID", uint32(0x321))))
		b, _ := classic.Attach("b")
		done := make(chan error, 1)
		go func() { _, err := b.Recv(-1); done <- err }()
		time.Sleep(20 * time.Millisecond)
		Expect(b.Close()).To(Succeed())
		Eventually(done).Should(Receive(MatchError(can.ErrClosed)))
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
