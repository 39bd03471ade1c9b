package bus_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

var _ = Describe("a signal spoofer (spoof-signal)", func() {
	It("answers each genuine frame with a copy carrying its value, the same alive counter and a valid CRC, so the last value on the bus is the attacker's", func() {
		db, err := dbc.Load("../../rigs/dbc/powertrain.dbc")
		Expect(err).NotTo(HaveOccurred())
		m, ok := db.Message("ESC_WheelSpeeds")
		Expect(ok).To(BeTrue())
		speed, _ := m.Signal("VehicleSpeed")
		alive, _ := m.Signal("ESC_WheelSpeeds_Alive")
		crc, _ := m.Signal("ESC_WheelSpeeds_CRC")
		onBench(func(b *bench) {
			var seen []can.Event
			b.bus.Tap(func(e can.Event) {
				if e.Frame.ID == m.ID {
					seen = append(seen, e)
				}
			})
			sp, err := bus.StartSignalSpoof(b.bus, b.sim, "attacker (spoof)", bus.SignalSpoof{Message: m, Signal: speed, Raw: 0,
				Checksums: []restbus.ChecksumRule{{Message: m.Name, Signal: crc.Name, Algorithm: restbus.CRC8J1850}}})
			Expect(err).NotTo(HaveOccurred())
			ecu, err := b.bus.Attach("restbus:ESC", can.Filter{})
			Expect(err).NotTo(HaveOccurred())
			for k := int64(0); k < 5; k++ {
				raw := make([]int64, len(m.Signals))
				i, _ := m.Index(speed.Name)
				raw[i] = 5000 // 50 km/h
				j, _ := m.Index(alive.Name)
				raw[j] = k
				f := m.Frame(raw)
				d := f.Payload()
				d[crc.Start/8] = restbus.Checksum(restbus.CRC8J1850, d[1:])
				Expect(ecu.Send(f)).To(Succeed())
				b.sim.Sleep(10 * time.Millisecond)
			}
			st := sp.Stop()
			Expect(st).To(Equal(bus.SpoofStats{Genuine: 5, Spoofed: 5}))
			Expect(seen).To(HaveLen(10))
			for k := 0; k < 5; k++ {
				g, s := seen[2*k], seen[2*k+1]
				Expect(g.Sender).To(Equal("restbus:ESC"))
				Expect(s.Sender).To(Equal("attacker (spoof)"), "right after the genuine frame")
				gd, sd := g.Frame.Payload(), s.Frame.Payload()
				Expect(speed.Raw(gd)).To(Equal(int64(5000)))
				Expect(speed.Raw(sd)).To(BeZero())
				Expect(alive.Raw(sd)).To(Equal(alive.Raw(gd)), "the same alive counter")
				Expect(sd[0]).To(Equal(restbus.Checksum(restbus.CRC8J1850, sd[1:])), "a valid CRC over its own bytes")
			}
		})
	})
})
