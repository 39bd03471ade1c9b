package restbus_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

// parkedConds are rigs/virtual.yaml's preconditions of ECM-0001: the car
// parked (VehicleSpeed <= 0) with the ignition on, each stale after its
// default timeout.
func parkedConds(db *dbc.Database) []restbus.Condition {
	GinkgoHelper()
	sm, speed, err := db.FindSignal("VehicleSpeed")
	Expect(err).NotTo(HaveOccurred())
	im, ign, err := db.FindSignal("IgnitionState")
	Expect(err).NotTo(HaveOccurred())
	on, err := ign.ParseValue("ON")
	Expect(err).NotTo(HaveOccurred())
	zero := 0.0
	return []restbus.Condition{
		{Message: sm, Signal: speed, Max: &zero, Timeout: restbus.DefaultTimeout(sm)},
		{Message: im, Signal: ign, Equals: &on, Timeout: restbus.DefaultTimeout(im)},
	}
}

var _ = Describe("reading preconditions off the bus (Monitor)", func() {
	It("takes a stale timeout of 5 cycle times, at least 500 ms, from the DBC", func() {
		conds := parkedConds(load("powertrain.dbc"))
		Expect(conds[0].Message.Cycle).To(Equal(10 * time.Millisecond))
		Expect(conds[0].Timeout).To(Equal(restbus.MinTimeout), "5 × 10 ms is below the floor")
		Expect(conds[1].Message.Cycle).To(Equal(50 * time.Millisecond))
		Expect(conds[1].Timeout).To(Equal(restbus.MinTimeout))
		m := *conds[0].Message
		m.Cycle = time.Second
		Expect(restbus.DefaultTimeout(&m)).To(Equal(5 * time.Second))
	})

	It("is unmet for a signal never seen and for a stale one, holds on fresh values, and tells its log each first sighting and each change", func() {
		clk := clock.NewSim(time.Time{})
		clk.SetHorizon(time.Hour)
		var mu sync.Mutex
		var log []string
		said := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), log...) }
		Expect(clk.Run("root", func() {
			b := vbus.New(vbus.Config{Name: "pt", Clock: clk})
			db := load("powertrain.dbc")
			m := restbus.Watch(b, clk, parkedConds(db))
			m.Notify(func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() })
			err := m.Check()
			Expect(err).To(MatchError(restbus.ErrConditions))
			Expect(err.Error()).To(ContainSubstring("ESC_WheelSpeeds.VehicleSpeed not seen on the bus (want VehicleSpeed <= 0)"))
			Expect(err.Error()).To(ContainSubstring("GW_IgnitionStatus.IgnitionState not seen on the bus"))
			Expect(said()).To(HaveLen(1))
			Expect(said()[0]).To(HavePrefix("programming refused: conditions not met: ESC_WheelSpeeds.VehicleSpeed not seen"))
			Expect(m.Check()).To(HaveOccurred())
			Expect(said()).To(HaveLen(1), "the same verdict is told once")

			// the car's network comes up: parked, ignition on
			rb, err := restbus.New(restbus.Config{DB: db, Nodes: []string{"ESC", "GW"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(rb.Start(clk, b)).To(Succeed())
			clk.Sleep(100 * time.Millisecond)
			Expect(m.Check()).To(Succeed())
			Expect(said()).To(ContainElements(
				HavePrefix("ESC_WheelSpeeds.VehicleSpeed first seen on the bus: 0 km/h"),
				HavePrefix("GW_IgnitionStatus.IgnitionState first seen on the bus: 2 (ON)"),
				"programming preconditions hold"))

			// the car drives: the last value read breaks it
			Expect(rb.Set("ESC_WheelSpeeds", "VehicleSpeed", 5000)).To(Succeed())
			clk.Sleep(20 * time.Millisecond)
			Expect(m.Check()).To(MatchError(ContainSubstring("VehicleSpeed is 50 km/h (want VehicleSpeed <= 0)")))
			Expect(rb.Set("ESC_WheelSpeeds", "VehicleSpeed", 0)).To(Succeed())
			clk.Sleep(20 * time.Millisecond)
			Expect(m.Check()).To(Succeed())

			// the ESC and the gateway fall silent: the last values go stale
			// after the timeout, not before
			rb.Stop()
			clk.Sleep(restbus.MinTimeout - 50*time.Millisecond)
			Expect(m.Check()).To(Succeed(), "within the timeout the last value stands")
			clk.Sleep(100 * time.Millisecond)
			err = m.Check()
			Expect(err).To(MatchError(ContainSubstring("ESC_WheelSpeeds.VehicleSpeed stale: no frame for")))
			Expect(err.Error()).To(ContainSubstring("(timeout 500ms; last 0 km/h; want VehicleSpeed <= 0)"))
			Expect(said()[len(said())-1]).To(HavePrefix("programming refused: conditions not met: ESC_WheelSpeeds.VehicleSpeed stale"))
		})).To(Succeed())
	})

	It("tells a log set after frames arrived (between Watch and Notify) each signal's first value, once", func() {
		clk := clock.NewSim(time.Time{})
		db := load("powertrain.dbc")
		conds := parkedConds(db)
		m := restbus.NewMonitor(clk, conds)
		speed := conds[0].Message
		i, ok := speed.Index("VehicleSpeed")
		Expect(ok).To(BeTrue())
		raw := speed.StartValues()
		raw[i] = 5000
		f := speed.Frame(raw)
		m.Observe(f, clk.Now())
		raw[i] = 0
		f = speed.Frame(raw)
		m.Observe(f, clk.Now())
		var log []string
		m.Notify(func(s string) { log = append(log, s) })
		Expect(log).To(Equal([]string{"ESC_WheelSpeeds.VehicleSpeed first seen on the bus: 50 km/h"}), "the first value, not the last")
		m.Observe(f, clk.Now())
		Expect(log).To(HaveLen(1), "a sighting is told once")
	})

	It("takes frames from whoever calls Observe (a rest-bus's OnSent: what its own nodes sent)", func() {
		clk := clock.NewSim(time.Time{})
		clk.SetHorizon(time.Hour)
		Expect(clk.Run("root", func() {
			b := vbus.New(vbus.Config{Name: "pt", Clock: clk})
			db := load("powertrain.dbc")
			conds := parkedConds(db)
			m := restbus.NewMonitor(clk, conds)
			rb, err := restbus.New(restbus.Config{DB: db, Nodes: []string{"ESC", "GW"}})
			Expect(err).NotTo(HaveOccurred())
			remove := rb.OnSent(m.Observe)
			Expect(rb.Start(clk, b)).To(Succeed())
			// another node on the wire says the car drives: not the rest-bus's word
			n, err := b.Attach("attacker", can.Filter{ID: 0xffffffff, Mask: 0xffffffff, Extended: true})
			Expect(err).NotTo(HaveOccurred())
			clk.Sleep(100 * time.Millisecond)
			Expect(m.Check()).To(Succeed())
			esc := conds[0].Message
			raw := esc.StartValues()
			i, _ := esc.Index("VehicleSpeed")
			raw[i] = 5000
			Expect(n.Send(esc.Frame(raw))).To(Succeed())
			clk.Sleep(time.Millisecond)
			Expect(m.Check()).To(Succeed(), "a frame the rest-bus did not send is not its word")
			Expect(rb.Set("ESC_WheelSpeeds", "VehicleSpeed", 5000)).To(Succeed())
			clk.Sleep(20 * time.Millisecond)
			Expect(m.Check()).To(MatchError(ContainSubstring("VehicleSpeed is 50 km/h")))
			remove()
			Expect(rb.Set("ESC_WheelSpeeds", "VehicleSpeed", 0)).To(Succeed())
			clk.Sleep(20 * time.Millisecond)
			Expect(m.Check()).To(HaveOccurred(), "removed: it sees no more frames")
			rb.Stop()
		})).To(Succeed())
	})
})
