package socketcan_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

// A kernel that hands out a real descriptor and one up CAN interface.
func fakeSocket(int, int, int) (int, error) { return unix.Open("/dev/null", unix.O_RDONLY, 0) }
func fakeIface(mtu int) func(string) (*net.Interface, error) {
	return func(name string) (*net.Interface, error) {
		return &net.Interface{Index: 7, Name: name, MTU: mtu, Flags: net.FlagUp}, nil
	}
}

// simulatedOnly is a simulated clock that cannot wait for the kernel.
type simulatedOnly struct{ clock.Clock }

func (simulatedOnly) Simulated() bool { return true }

var _ = Describe("SocketCAN on a simulated clock (any kernel)", func() {
	It("refuses a simulated clock that cannot hold time for frames in the kernel", func() {
		DeferCleanup(socketcan.FakeKernel(fakeSocket, fakeIface(16)))
		_, err := socketcan.Open("vcan0", socketcan.WithClock(simulatedOnly{clock.NewWall()}))
		Expect(err).To(MatchError(ContainSubstring("must implement clock.External")))
	})
})

var _ = Describe("SocketCAN on a simulated clock", Label("vcan"), func() {
	// within runs root on a fresh simulated clock with vcan0 and vcan1
	// opened on it.
	within := func(root func(sim *clock.Sim, classic, fd *socketcan.Bus)) {
		GinkgoHelper()
		sim := clock.NewSim(time.Time{})
		sim.SetHorizon(time.Hour)
		classic, err := socketcan.Open("vcan0", socketcan.WithClock(sim))
		Expect(err).NotTo(HaveOccurred())
		defer classic.Close()
		fd, err := socketcan.Open("vcan1", socketcan.WithClock(sim))
		Expect(err).NotTo(HaveOccurred())
		defer fd.Close()
		Expect(sim.Run("root", func() { root(sim, classic, fd) })).To(Succeed())
	}

	It("carries 2,000 frames through the kernel in order while simulated time stands still, and taps them at simulated times", func() {
		within(func(sim *clock.Sim, classic, _ *socketcan.Bus) {
			var mu sync.Mutex
			var tapped []can.Event
			stop := classic.Tap(func(ev can.Event) { mu.Lock(); tapped = append(tapped, ev); mu.Unlock() })
			defer stop()
			a, err := classic.Attach("a")
			Expect(err).NotTo(HaveOccurred())
			b, err := classic.Attach("b")
			Expect(err).NotTo(HaveOccurred())
			start := sim.Now()
			const n = 2000
			sim.Go("sender", func() {
				for i := range n {
					Expect(a.Send(can.New(uint32(0x100+i%0x600), []byte{byte(i >> 8), byte(i)}))).To(Succeed())
				}
			})
			for i := range n {
				f, err := b.Recv(time.Millisecond) // far shorter than the kernel's real latency
				Expect(err).NotTo(HaveOccurred(), "frame %d", i)
				Expect(f.Data[:2]).To(Equal([]byte{byte(i >> 8), byte(i)}))
			}
			Expect(sim.Since(start)).To(BeZero())
			sim.Sleep(time.Millisecond) // the tap's last frames
			mu.Lock()
			defer mu.Unlock()
			Expect(tapped).To(HaveLen(n))
			Expect(tapped[n-1].Time).To(Equal(start))
		})
	})

	It("applies node filters in this process, and a filtered frame holds nobody's time", func() {
		within(func(sim *clock.Sim, classic, _ *socketcan.Bus) {
			a, _ := classic.Attach("a")
			b, _ := classic.Attach("b", can.Exact(0x7E8, false))
			Expect(a.Send(can.New(0x7E0, []byte{1}))).To(Succeed())
			Expect(a.Send(can.New(0x7E8, []byte{2}))).To(Succeed())
			got, err := b.Recv(time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.ID).To(Equal(uint32(0x7E8)))
			start := sim.Now()
			_, err = b.Recv(250 * time.Millisecond)
			Expect(errors.Is(err, can.ErrTimeout)).To(BeTrue(), "%v", err)
			Expect(sim.Since(start)).To(Equal(250 * time.Millisecond))
		})
	})

	for _, ifname := range []string{"vcan0", "vcan1"} {
		It(fmt.Sprintf("runs ISO-TP through the kernel on %s with exact simulated timers: 66,000 bytes intact, N_Bs after exactly 1 s", ifname), func() {
			within(func(sim *clock.Sim, classic, fd *socketcan.Bus) {
				bus, o := classic, isotp.Options{}
				if ifname == "vcan1" {
					bus, o = fd, isotp.Options{FD: true, BRS: true, TxDL: 64}
				}
				mk := func(name string, tx, rx uint32) *isotp.Conn {
					GinkgoHelper()
					opt := o
					opt.Name, opt.TxID, opt.RxID = name, tx, rx
					c, err := isotp.New(bus, sim, opt)
					Expect(err).NotTo(HaveOccurred())
					return c
				}
				a, b := mk("a", 0x700, 0x708), mk("b", 0x708, 0x700)
				defer a.Close()
				defer b.Close()
				msg := make([]byte, 66000)
				for i := range msg {
					msg[i] = byte(i * 7)
				}
				sim.Go("sender", func() { Expect(a.Send(msg)).To(Succeed()) })
				got, err := b.Recv(10 * time.Second)
				Expect(err).NotTo(HaveOccurred())
				Expect(bytes.Equal(got, msg)).To(BeTrue())

				lonely := mk("lonely", 0x710, 0x718) // nobody answers 0x710
				defer lonely.Close()
				start := sim.Now()
				err = lonely.Send(make([]byte, 100))
				Expect(errors.Is(err, isotp.ErrTimeout)).To(BeTrue(), "%v", err)
				Expect(err).To(MatchError(ContainSubstring("N_Bs")))
				Expect(sim.Since(start)).To(Equal(isotp.DefaultTimeout))
			})
		})
	}
})
