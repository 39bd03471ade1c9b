package socketcan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/vcantest"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

// BenchmarkVcanISOTP moves the same message over vcan with our ISO-TP
// (package isotp on socketcan nodes) and with the kernel's can-isotp
// sockets, one after the other in every iteration, and reports both
// throughputs and their ratio (ours/kernel; above 1 means ours is faster).
// raw-floor/kernel is the same for our nodes without ISO-TP: as many
// frames as our ISO-TP sends for the message, built beforehand, written by
// one node in batches and read by another, no protocol at all (ours pays
// these system calls and this kernel path per frame, and more).
// tx-only/kernel is the bound of any ISO-TP that transmits through CAN_RAW:
// the same frames written by a node that nobody receives (no reception,
// no protocol); on this emulated CPU it is near 1, so a stack in user space
// cannot reach the kernel's throughput (canprobe measures the same paths
// in C: .ci/vm/README.md). The kernel sends without its default 50 µs frame_txtime gap, so both
// sides run as fast as vcan and the CPU allow. Benchmarks whose names
// contain "Vcan" run in the VM of `make test-vcan` (where a missing CAN
// fails them: UPTANE_HIL_REQUIRE_VCAN=1); on a kernel without CAN they skip.
func BenchmarkVcanISOTP(b *testing.B) {
	for _, tc := range []struct {
		ifname string
		size   int
	}{
		{"vcan0", 4095},
		{"vcan0", kernelMaxPDU},
		{"vcan1", kernelMaxPDU},
	} {
		b.Run(fmt.Sprintf("%s-%d", tc.ifname, tc.size), func(b *testing.B) {
			bus, err := socketcan.Open(tc.ifname)
			if err != nil && vcantest.Required() {
				b.Fatalf("SocketCAN is required here (%s=1): %v", vcantest.RequireEnv, err)
			}
			if err != nil {
				b.Skipf("needs SocketCAN (run it with make test-vcan): %v", err)
			}
			defer bus.Close()
			open := func(tx, rx uint32) *isotp.Conn {
				node, err := bus.Attach(fmt.Sprintf("bench-%x", tx), can.Exact(rx, false))
				if err != nil {
					b.Fatal(err)
				}
				opt := isotp.Options{TxID: tx, RxID: rx, MaxRx: 1 << 20}
				if bus.FD() {
					opt.FD, opt.TxDL, opt.BRS = true, 64, true
				}
				c, err := isotp.OnNode(node, bus.FD(), clock.NewWall(), opt)
				if err != nil {
					b.Fatal(err)
				}
				return c
			}
			ourA, ourB := open(0x700, 0x708), open(0x708, 0x700)
			defer ourA.Close()
			defer ourB.Close()
			ko := kernelOpts{fd: bus.FD(), txtime0: true}
			kA, err := openKernelISOTP(tc.ifname, 0x600, 0x608, ko)
			if err != nil {
				b.Fatal(err)
			}
			defer kA.Close()
			kB, err := openKernelISOTP(tc.ifname, 0x608, 0x600, ko)
			if err != nil {
				b.Fatal(err)
			}
			defer kB.Close()

			// The floor of any ISO-TP in user space on CAN_RAW: the same
			// number of frames, precomputed, sent in batches by one node
			// and read by another, no protocol at all.
			rawA, err := bus.Attach("raw-a", can.Exact(0x501, false)) // receives nothing
			if err != nil {
				b.Fatal(err)
			}
			rawB, err := bus.Attach("raw-b", can.Exact(0x500, false))
			if err != nil {
				b.Fatal(err)
			}
			txOnly, err := bus.Attach("tx-only", can.Exact(0x531, false)) // sends 0x530, which nobody receives
			if err != nil {
				b.Fatal(err)
			}
			per := 7
			if bus.FD() {
				per = 63
			}
			frames := make([]can.Frame, (tc.size+per-1)/per)
			for i := range frames {
				frames[i] = can.Frame{ID: 0x500, FD: bus.FD(), BRS: bus.FD(), Len: uint8(per + 1)}
			}
			silent := make([]can.Frame, len(frames))
			for i := range silent {
				silent[i] = frames[i]
				silent[i].ID = 0x530
			}
			msg := payload(tc.size)
			var ours, kern, raw, tx time.Duration
			b.SetBytes(int64(2 * tc.size))
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := ourA.Send(msg); err != nil {
					b.Fatal("ours: ", err)
				}
				if got, err := ourB.Recv(30 * time.Second); err != nil || len(got) != tc.size {
					b.Fatalf("ours: %d bytes, %v", len(got), err)
				}
				t1 := time.Now()
				if err := kA.Send(msg); err != nil {
					b.Fatal("kernel: ", err)
				}
				if got, err := kB.Recv(30 * time.Second); err != nil || len(got) != tc.size {
					b.Fatalf("kernel: %d bytes, %v", len(got), err)
				}
				t2 := time.Now()
				if _, err := rawA.(can.BatchSender).SendBatch(frames); err != nil {
					b.Fatal("raw: ", err)
				}
				for range frames {
					if _, err := rawB.Recv(30 * time.Second); err != nil {
						b.Fatal("raw: ", err)
					}
				}
				t3 := time.Now()
				if _, err := txOnly.(can.BatchSender).SendBatch(silent); err != nil {
					b.Fatal("tx only: ", err)
				}
				t4 := time.Now()
				ours += t1.Sub(t0)
				kern += t2.Sub(t1)
				raw += t3.Sub(t2)
				tx += t4.Sub(t3)
			}
			mb := float64(tc.size) * float64(b.N) / 1e6
			b.ReportMetric(mb/ours.Seconds(), "ours-MB/s")
			b.ReportMetric(mb/kern.Seconds(), "kernel-MB/s")
			b.ReportMetric(kern.Seconds()/ours.Seconds(), "ours/kernel")
			b.ReportMetric(kern.Seconds()/raw.Seconds(), "raw-floor/kernel")
			b.ReportMetric(kern.Seconds()/tx.Seconds(), "tx-only/kernel")
		})
	}
}
