package socketcan_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + n)
	}
	return b
}

// ourISOTP opens our ISO-TP (package isotp) on a SocketCAN node.
func ourISOTP(bus *socketcan.Bus, tx, rx uint32) *isotp.Conn {
	GinkgoHelper()
	node, err := bus.Attach(fmt.Sprintf("isotp-%x", tx), can.Exact(rx, rx > can.MaxStdID))
	Expect(err).NotTo(HaveOccurred())
	opt := isotp.Options{TxID: tx, RxID: rx, Extended: rx > can.MaxStdID || tx > can.MaxStdID, MaxRx: 1 << 20}
	if bus.FD() {
		opt.FD, opt.TxDL, opt.BRS = true, 64, true
	}
	c, err := isotp.OnNode(node, bus.FD(), clock.NewWall(), opt)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

func kernelConn(ifname string, tx, rx uint32, o kernelOpts) *kernelISOTP {
	GinkgoHelper()
	k, err := openKernelISOTP(ifname, tx, rx, o)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(k.Close)
	return k
}

// kernelISOTPBound reports whether a kernel can-isotp socket receives
// standard id rx on ifname: its bind registered an "isotp" receiver, which
// /proc/net/can/rcvlist_sff lists as "  vcan0  7e0  000007ff  …  isotp".
func kernelISOTPBound(ifname string, rx uint32) (bool, error) {
	data, err := os.ReadFile("/proc/net/can/rcvlist_sff")
	if err != nil {
		return false, StopTrying("no list of the kernel's CAN receivers: " + err.Error())
	}
	id := fmt.Sprintf("%03x", rx)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == ifname && f[1] == id && f[len(f)-1] == "isotp" {
			return true, nil
		}
	}
	return false, nil
}

// candump runs `candump -L` on the interfaces and returns its parsed frames
// as they come (through sim/capture's parser), and a stop function. It
// returns once candump is known to listen: a sync frame sent on each
// interface has come out (sync frames are not passed on).
func candump(nodes map[string]can.Node, ifaces ...string) (<-chan capture.Record, func()) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, "candump", append([]string{"-L"}, ifaces...)...)
	out, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed(), "candump (apt-get install can-utils)")
	stop := func() { cancel(); cmd.Wait() }
	DeferCleanup(stop)
	recs := make(chan capture.Record, 1024)
	go func() {
		defer close(recs)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r, err := capture.ParseCandumpLine(sc.Text())
			if err != nil {
				fmt.Fprintf(GinkgoWriter, "candump line %q: %v\n", sc.Text(), err)
				continue
			}
			recs <- r
		}
	}()
	sync := can.New(0x7FF, []byte{0x5A})
	for _, ifn := range ifaces {
		Eventually(func() bool {
			Expect(nodes[ifn].Send(sync)).To(Succeed())
			select {
			case r := <-recs:
				return r.Iface == ifn && r.Frame == sync
			case <-time.After(100 * time.Millisecond):
				return false
			}
		}, 20*time.Second, time.Millisecond).Should(BeTrue(), "candump on %s never printed a frame", ifn)
	}
	clean := make(chan capture.Record, 1024)
	go func() {
		defer close(clean)
		for r := range recs {
			if r.Frame != sync {
				clean <- r
			}
		}
	}()
	return clean, stop
}

var _ = Describe("interop with can-utils and the kernel's can-isotp", Label("vcan"), func() {
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

	It("candump -L prints exactly the frames our nodes send (classic, 29-bit, remote, FD with BRS)", func() {
		a, _ := classic.Attach("a")
		b, _ := fd.Attach("b")
		recs, stop := candump(map[string]can.Node{"vcan0": a, "vcan1": b}, "vcan0", "vcan1")
		fdFrame := can.Frame{ID: 0x18DAF110, Extended: true, FD: true, BRS: true, Len: 64}
		copy(fdFrame.Data[:], payload(64))
		sent := []struct {
			iface string
			node  can.Node
			f     can.Frame
		}{
			{"vcan0", a, can.New(0x123, []byte{0xDE, 0xAD, 0xBE, 0xEF})},
			{"vcan0", a, can.New(0x1ABCDEF0, []byte{1, 2, 3})},
			{"vcan0", a, can.Frame{ID: 0x456, Remote: true}},
			{"vcan0", a, can.New(0x000, nil)},
			{"vcan1", b, can.Frame{ID: 0x7E0, FD: true, Len: 12, Data: [64]byte{0x10, 0x20}}},
			{"vcan1", b, fdFrame},
		}
		for _, s := range sent {
			Expect(s.node.Send(s.f)).To(Succeed())
		}
		// candump reads its sockets in turn: the order holds per interface
		want, got := map[string][]can.Frame{}, map[string][]can.Frame{}
		for _, s := range sent {
			want[s.iface] = append(want[s.iface], s.f)
		}
		for range sent {
			var r capture.Record
			Eventually(recs, 10*time.Second).Should(Receive(&r), "candump printed %v of %v", got, want)
			got[r.Iface] = append(got[r.Iface], r.Frame)
		}
		Expect(got).To(Equal(want))
		stop()
	})

	It("frames from cansend and cangen reach our nodes unchanged", func() {
		a, _ := classic.Attach("a")
		b, _ := fd.Attach("b")
		for _, tc := range []struct {
			node  can.Node
			iface string
			arg   string
			want  can.Frame
		}{
			{a, "vcan0", "321#CAFE", can.New(0x321, []byte{0xCA, 0xFE})},
			{a, "vcan0", "1ABCDEF0#01.02.03.04.05.06.07.08", can.New(0x1ABCDEF0, []byte{1, 2, 3, 4, 5, 6, 7, 8})},
			{a, "vcan0", "7FF#R", can.Frame{ID: 0x7FF, Remote: true}},
			{a, "vcan0", "123#", can.New(0x123, nil)},
			{b, "vcan1", "7E0##1" + strings.Repeat("AB", 64), func() can.Frame {
				f := can.Frame{ID: 0x7E0, FD: true, BRS: true, Len: 64}
				copy(f.Data[:], strings.Repeat("\xAB", 64))
				return f
			}()},
		} {
			out, err := exec.Command("cansend", tc.iface, tc.arg).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "cansend %s %s: %s", tc.iface, tc.arg, out)
			got, err := tc.node.Recv(5 * time.Second)
			Expect(err).NotTo(HaveOccurred(), "cansend %s", tc.arg)
			Expect(got).To(Equal(tc.want), "cansend %s arrived as %s", tc.arg, got)
		}

		out, err := exec.Command("cangen", "vcan0", "-n", "200", "-g", "0", "-I", "42A", "-L", "8", "-D", "i").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "cangen: %s", out)
		var prev byte
		for i := 0; i < 200; i++ {
			f, err := a.Recv(5 * time.Second)
			Expect(err).NotTo(HaveOccurred(), "cangen frame %d of 200", i)
			Expect(f.ID).To(Equal(uint32(0x42A)))
			Expect(f.Len).To(Equal(uint8(8)))
			if i > 0 {
				Expect(f.Data[0]).To(Equal(prev+1), "cangen -D i increments the payload, frame %d", i)
			}
			prev = f.Data[0]
		}
		out, err = exec.Command("cangen", "vcan1", "-f", "-b", "-n", "50", "-g", "0", "-I", "18DB33F1", "-e", "-L", "64").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "cangen -f: %s", out)
		for i := 0; i < 50; i++ {
			f, err := b.Recv(5 * time.Second)
			Expect(err).NotTo(HaveOccurred(), "cangen FD frame %d of 50", i)
			Expect(f).To(And(HaveField("ID", uint32(0x18DB33F1)), HaveField("Extended", true),
				HaveField("FD", true), HaveField("BRS", true), HaveField("Len", uint8(64))))
		}
		_, err = a.Recv(100 * time.Millisecond)
		Expect(errors.Is(err, can.ErrTimeout)).To(BeTrue(), "no stray frames: %v", err)
	})

	for _, isFD := range []bool{false, true} {
		ifname := map[bool]string{false: "vcan0", true: "vcan1"}[isFD]
		It(fmt.Sprintf("our ISO-TP and the kernel's can-isotp exchange 1, 7, 8, 62, 4095, 4096 and %d bytes both ways on %s", kernelMaxPDU, ifname), func() {
			bus := map[bool]*socketcan.Bus{false: classic, true: fd}[isFD]
			ours := ourISOTP(bus, 0x7E0, 0x7E8)
			kern := kernelConn(ifname, 0x7E8, 0x7E0, kernelOpts{fd: isFD})
			for _, n := range []int{1, 7, 8, 62, 4095, 4096, kernelMaxPDU} {
				msg := payload(n)
				t0 := time.Now()
				Expect(ours.Send(msg)).To(Succeed(), "our send of %d bytes to the kernel", n)
				got, err := kern.Recv(20 * time.Second)
				Expect(err).NotTo(HaveOccurred(), "kernel receive of %d bytes", n)
				Expect(got).To(Equal(msg), "%d bytes ours→kernel", n)
				t1 := time.Now()
				Expect(kern.Send(msg)).To(Succeed(), "kernel send of %d bytes", n)
				got, err = ours.Recv(20 * time.Second)
				Expect(err).NotTo(HaveOccurred(), "our receive of %d bytes", n)
				Expect(got).To(Equal(msg), "%d bytes kernel→ours", n)
				fmt.Fprintf(GinkgoWriter, "%s %6d bytes: ours→kernel %s, kernel→ours %s\n", ifname, n, t1.Sub(t0), time.Since(t1))
			}
		})
	}

	It(fmt.Sprintf("finds the kernel's largest message (%d bytes): it refuses to send more, and answers more with FC OVFLW", kernelMaxPDU), func() {
		ours := ourISOTP(classic, 0x7E0, 0x7E8)
		kern := kernelConn("vcan0", 0x7E8, 0x7E0, kernelOpts{txtime0: true})
		Expect(kern.Send(payload(kernelMaxPDU))).To(Succeed())
		got, err := ours.Recv(20 * time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(HaveLen(kernelMaxPDU))
		err = kern.Send(payload(kernelMaxPDU + 1))
		Expect(err).To(MatchError(unix.EINVAL), "the kernel's sendmsg refuses size > MAX_MSG_LENGTH")

		err = ours.Send(payload(kernelMaxPDU + 1))
		Expect(errors.Is(err, isotp.ErrOverflow)).To(BeTrue(), "our send of %d bytes: %v", kernelMaxPDU+1, err)
		// the channel still works afterwards
		Expect(ours.Send(payload(100))).To(Succeed())
		Expect(kern.Recv(5 * time.Second)).To(Equal(payload(100)))
	})

	It("isotpsend and isotprecv (can-utils) talk to our ISO-TP", func() {
		ours := ourISOTP(classic, 0x7E0, 0x7E8)
		msg := payload(300)

		send := exec.Command("isotpsend", "-s", "7E8", "-d", "7E0", "vcan0")
		send.Stdin = strings.NewReader(fmt.Sprintf("% X\n", msg))
		out, err := send.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "isotpsend: %s", out)
		Expect(ours.Recv(10 * time.Second)).To(Equal(msg))

		// isotprecv (no -l) prints one message and exits; its output is
		// block-buffered on a pipe, so one process per message. It binds its
		// socket some time after it starts: until then our first frame would
		// get no flow control. Its bind registers a kernel receiver for
		// 0x7E0 ("isotp" in /proc/net/can/rcvlist_sff): the send waits for
		// that. Should a send still time out (N_Bs), start over.
		var printed []byte
		Eventually(func(g Gomega) error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			recv := exec.CommandContext(ctx, "isotprecv", "-s", "7E8", "-d", "7E0", "vcan0")
			var buf strings.Builder
			recv.Stdout = &buf
			if err := recv.Start(); err != nil {
				return StopTrying("isotprecv: " + err.Error())
			}
			g.Eventually(kernelISOTPBound).WithArguments("vcan0", uint32(0x7E0)).WithTimeout(10*time.Second).Should(BeTrue(),
				"isotprecv never bound its ISO-TP socket to vcan0 (no isotp receiver for 0x7E0 in /proc/net/can/rcvlist_sff)")
			if err := ours.Send(msg); err != nil {
				cancel()
				recv.Wait()
				return err
			}
			if err := recv.Wait(); err != nil {
				return fmt.Errorf("isotprecv: %v (printed %q)", err, buf.String())
			}
			printed, err = hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(buf.String()), " ", ""))
			return err
		}, 30*time.Second, 10*time.Millisecond).Should(Succeed())
		Expect(printed).To(Equal(msg))
	})
})
