package restbus_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

// wheelFrame is an ESC_WheelSpeeds frame with the given alive counter and
// speed (raw, 0.01 km/h), its CRC computed as the rigs' rest-bus does (or
// broken).
func wheelFrame(m *dbc.Message, alive, speed int64, badCRC bool) can.Frame {
	GinkgoHelper()
	raw := make([]int64, len(m.Signals))
	ai, ok := m.Index("ESC_WheelSpeeds_Alive")
	Expect(ok).To(BeTrue())
	si, ok := m.Index("VehicleSpeed")
	Expect(ok).To(BeTrue())
	raw[ai], raw[si] = alive, speed
	f := m.Frame(raw)
	f.Data[0] = restbus.Checksum(restbus.CRC8J1850, f.Data[1:f.Len])
	if badCRC {
		f.Data[0] ^= 0x5a
	}
	return f
}

var _ = Describe("an end-to-end check of a precondition's message (E2E)", func() {
	var (
		m   *dbc.Message
		mon *restbus.Monitor
		at  time.Time
		clk clock.Clock
	)
	BeforeEach(func() {
		db := load("powertrain.dbc")
		var speed *dbc.Signal
		var err error
		m, speed, err = db.FindSignal("VehicleSpeed")
		Expect(err).NotTo(HaveOccurred())
		e2e, err := restbus.NewE2E(m, restbus.CounterRule{Message: m.Name, Signal: "ESC_WheelSpeeds_Alive"},
			&restbus.ChecksumRule{Message: m.Name, Signal: "ESC_WheelSpeeds_CRC", Algorithm: restbus.CRC8J1850})
		Expect(err).NotTo(HaveOccurred())
		Expect(e2e.String()).To(Equal("end-to-end check (alive counter ESC_WheelSpeeds_Alive, crc8-j1850 ESC_WheelSpeeds_CRC)"))
		zero := 0.0
		clk = clock.NewSim(time.Time{})
		at = clk.Now()
		mon = restbus.NewMonitor(clk, []restbus.Condition{{Message: m, Signal: speed, Max: &zero, E2E: e2e}})
	})
	send := func(alive, speed int64, badCRC bool) {
		GinkgoHelper()
		mon.Observe(wheelFrame(m, alive, speed, badCRC), at)
	}

	It("holds after two good frames in a row, the counter moving on (and wrapping, and skipping a lost frame)", func() {
		send(14, 0, false)
		Expect(mon.Check()).To(MatchError(ContainSubstring("ESC_WheelSpeeds.VehicleSpeed not valid yet: its end-to-end check (alive counter ESC_WheelSpeeds_Alive, crc8-j1850 ESC_WheelSpeeds_CRC) passed 1 frame(s) in a row, it wants 2")))
		send(15, 0, false)
		Expect(mon.Check()).To(Succeed())
		send(0, 0, false)
		send(2, 0, false) // counter 1 lost
		Expect(mon.Check()).To(Succeed())
	})

	It("refuses a signal whose frames come twice with each counter value (a spoofer's copies), though the last value read says parked, until two good frames in a row", func() {
		for n := int64(0); n < 10; n++ {
			send(n, 5000, false) // the genuine ESC: 50 km/h
			send(n, 0, false)    // the attacker's copy: 0 km/h, same counter, CRC recomputed
		}
		err := mon.Check()
		Expect(err).To(MatchError(restbus.ErrConditions))
		Expect(err.Error()).To(ContainSubstring("ESC_WheelSpeeds.VehicleSpeed invalid: its end-to-end check (alive counter ESC_WheelSpeeds_Alive, crc8-j1850 ESC_WheelSpeeds_CRC) failed 10 frame(s), the last: ESC_WheelSpeeds_Alive 9 repeated"))
		Expect(err.Error()).NotTo(ContainSubstring("VehicleSpeed is 0"), "the copy's value was discarded")
		// the spoofer is gone: the genuine frames alone, the car parked
		send(10, 0, false)
		Expect(mon.Check()).To(HaveOccurred(), "one good frame is not enough")
		send(11, 0, false)
		Expect(mon.Check()).To(Succeed())
	})

	It("discards a frame whose checksum is wrong, and a counter that goes back", func() {
		send(3, 0, false)
		send(4, 0, false)
		Expect(mon.Check()).To(Succeed())
		send(5, 5000, true)
		Expect(mon.Check()).To(MatchError(ContainSubstring("ESC_WheelSpeeds_CRC 0x")))
		send(5, 0, false)
		send(6, 0, false)
		Expect(mon.Check()).To(Succeed())
		send(1, 0, false)
		Expect(mon.Check()).To(MatchError(ContainSubstring("ESC_WheelSpeeds_Alive went back from 6 to 1")))
	})

	It("starts afresh after the signal went stale: any counter is taken", func() {
		zero := 0.0
		e2e, err := restbus.NewE2E(m, restbus.CounterRule{Message: m.Name, Signal: "ESC_WheelSpeeds_Alive"}, nil)
		Expect(err).NotTo(HaveOccurred())
		mon = restbus.NewMonitor(clk, []restbus.Condition{{Message: m, Signal: m.Signals[2], Max: &zero, Timeout: time.Second, E2E: e2e}})
		send(7, 0, false)
		send(8, 0, false)
		Expect(mon.Check()).To(Succeed())
		at = at.Add(2 * time.Second) // a rest-bus that restarts its counters
		send(8, 0, false)
		send(9, 0, false)
		Expect(mon.Check()).To(Succeed(), "counter 8 again after the silence is no repeat")
	})

	It("refuses rules of another message or signals that cannot be a counter", func() {
		_, err := restbus.NewE2E(m, restbus.CounterRule{Message: "GW_IgnitionStatus", Signal: "ESC_WheelSpeeds_Alive"}, nil)
		Expect(err).To(MatchError(ContainSubstring("the counter rule is for message GW_IgnitionStatus")))
		_, err = restbus.NewE2E(m, restbus.CounterRule{Message: m.Name, Signal: "Nope"}, nil)
		Expect(err).To(MatchError(ContainSubstring(`has no signal "Nope"`)))
	})
})
