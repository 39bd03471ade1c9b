package restbus_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/vcantest"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/socketcan"
)

// vcanRig is the virtual rig's rest-bus (the project's DBC files, built
// into rigs) on vcan0 and vcan1.
const vcanRig = `name: restbus-vcan
seed: 1
clock: wall
buses:
  - {name: powertrain, kind: socketcan, interface: vcan0, bitrate: 500000,
     restbus: {dbc: dbc/powertrain.dbc, nodes: [ESC, GW, PDM, TCM],
       counters: [{message: ESC_WheelSpeeds, signal: ESC_WheelSpeeds_Alive}]}}
  - {name: body, kind: socketcan, interface: vcan1, fd: true, bitrate: 500000, data_bitrate: 2000000,
     restbus: {dbc: dbc/body.dbc}}
backend: {mode: embedded}
vehicle: {vin: UPTHIL00000000001}
ecus:
  - {id: TCU-0001, hardware_id: tcu-v1, role: primary, buses: [powertrain, body]}
  - {id: ECM-0001, hardware_id: ecm-v3, role: secondary, bus: powertrain}
  - {id: BCM-0001, hardware_id: bcm-v1, role: secondary, bus: body, isotp: {request: 0x7E0, response: 0x7E8, fd: true}}
`

var _ = Describe("the rest-bus on vcan, seen by candump", Label(vcantest.Label), func() {
	BeforeEach(vcantest.Check)

	It("sends every message of the DBC nodes at its cycle time on vcan0 (classic) and vcan1 (CAN FD), as candump -L logs it", func() {
		r, err := rigs.Parse("restbus-vcan.yaml", []byte(vcanRig))
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "candump", "-L", "vcan0", "vcan1")
		out, err := cmd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed(), "candump (can-utils)")
		DeferCleanup(func() { cancel(); _ = cmd.Wait() })
		recs := make(chan capture.Record, 1<<14)
		go func() {
			defer close(recs)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if rec, err := capture.ParseCandumpLine(sc.Text()); err == nil {
					recs <- rec
				} else {
					GinkgoWriter.Printf("candump line %q: %v\n", sc.Text(), err)
				}
			}
		}()
		times := map[string]map[uint32][]time.Time{"vcan0": {}, "vcan1": {}}
		// marker sends a frame no DBC message uses on each interface until
		// candump has logged it (it listens, or it has logged everything
		// sent before), keeping the times of the other frames it logs
		marker := can.New(0x7FF, []byte{0x5A})
		markers := map[string]can.Node{}
		awaitMarkers := func() {
			GinkgoHelper()
			for iface, n := range markers {
				Eventually(func() bool {
					Expect(n.Send(marker)).To(Succeed())
					for {
						select {
						case rec := <-recs:
							if rec.Frame == marker {
								if rec.Iface == iface {
									return true
								}
								continue
							}
							times[rec.Iface][rec.Frame.ID] = append(times[rec.Iface][rec.Frame.ID], rec.Time)
						case <-time.After(100 * time.Millisecond):
							return false
						}
					}
				}, 20*time.Second, time.Millisecond).Should(BeTrue(), "candump on %s logged the marker", iface)
			}
		}

		clk := clock.NewWall()
		type sent struct {
			iface string
			rb    *restbus.Restbus
			bus   *socketcan.Bus
		}
		var all []sent
		for _, b := range r.Buses {
			cfg, ok := b.RestbusConfig()
			Expect(ok).To(BeTrue())
			rb, err := restbus.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			bus, err := socketcan.Open(b.Interface)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(bus.Close)
			m, err := bus.Attach("marker")
			Expect(err).NotTo(HaveOccurred())
			markers[b.Interface] = m
			all = append(all, sent{b.Interface, rb, bus})
		}
		awaitMarkers()
		const run = 1200 * time.Millisecond
		for _, s := range all {
			Expect(s.rb.Start(clk, s.bus)).To(Succeed())
		}
		time.Sleep(run) // the span measured, not a synchronisation
		for _, s := range all {
			s.rb.Stop()
		}
		awaitMarkers()

		var table, bad []string
		for _, s := range all {
			for _, m := range s.rb.Messages() {
				if m.Cycle <= 0 || m.Cycle > run/4 {
					continue // event messages, and cycles too long to measure in this run
				}
				ts := times[s.iface][m.ID]
				want := int((run - m.StartDelay) / m.Cycle)
				// the frames sit on the message's cycle grid: each one's
				// phase (its time since the first, modulo the cycle) near the
				// median phase; a frame the VM's scheduler sent late is off
				// the grid, and the next one is back on it (no drift, no burst)
				tol := max(time.Millisecond, m.Cycle/10)
				var phases []time.Duration
				for _, t := range ts {
					p := t.Sub(ts[0]) % m.Cycle
					if p >= m.Cycle/2 {
						p -= m.Cycle
					}
					phases = append(phases, p)
				}
				on := 0
				if len(phases) > 0 {
					sorted := slices.Sorted(slices.Values(phases))
					anchor := sorted[len(sorted)/2]
					for _, p := range phases {
						dp := p - anchor
						dp = (dp%m.Cycle+m.Cycle+m.Cycle/2)%m.Cycle - m.Cycle/2
						if dp.Abs() <= tol {
							on++
						}
					}
				}
				var mean time.Duration
				if len(ts) > 1 {
					mean = ts[len(ts)-1].Sub(ts[0]) / time.Duration(len(ts)-1)
				}
				line := fmt.Sprintf("%s %s (cycle %s): %d frames (%d due), mean interval %s, %d on the grid (±%s)", s.iface, m.Name, m.Cycle, len(ts), want, mean, on, tol)
				table = append(table, line)
				// lower bounds only, as every wall-clock spec in the VM: a
				// starved VM sends late, never early (the exact times are
				// proven on the simulated clock)
				if len(ts) < max(2, want/3) || mean < m.Cycle*95/100 {
					bad = append(bad, line)
				}
			}
		}
		GinkgoWriter.Println(strings.Join(table, "\n"))
		Expect(table).NotTo(BeEmpty())
		Expect(bad).To(BeEmpty(), "messages faster than their cycle (mean interval under 95 %% of it), or nearly silent (under a third of the frames due)")
	})
})
