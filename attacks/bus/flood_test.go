package bus_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// flood floods an ECU whose server works 2 ms on each request it processes
// (500 a second at most) with 1000 TesterPresent a second for two seconds.
func flood(profile check.Profile) bus.FloodStats {
	var st bus.FloodStats
	onBench(func(b *bench) {
		b.serve("BRK-1", &fakeECU{}, secondary.ServerLimits(uds.ServerConfig{ServiceTime: 2 * time.Millisecond, RateBurst: 50}, profile, nil))
		f, err := bus.StartFlood(b.bus, b.sim, ch, "attacker (flood)", bus.FloodConfig{Rate: 1000})
		Expect(err).NotTo(HaveOccurred())
		b.sim.Sleep(2 * time.Second)
		st = f.Stop()
	})
	return st
}

var _ = Describe("a request flood (Flood)", func() {
	It("sends at its rate and sees every request answered by an ECU that answers the excess busy (pouf.rate_limit)", func() {
		st := flood(check.Conformant)
		Expect(st.Sent).To(BeNumerically("~", 2000, 2))
		Expect(st.Lost).To(BeZero())
		Expect(st.Answered).To(Equal(st.Sent))
		// a burst of 50, then 200 a second
		Expect(st.Sent - st.Busy).To(BeNumerically("~", 50+2*200, 3))
	})

	It("sees requests lost when the ECU processes them all and cannot keep up", func() {
		st := flood(check.Without(check.PoufRateLimit))
		Expect(st.Busy).To(BeZero())
		Expect(st.Lost).To(BeNumerically(">", 0))
		// what 2 s of a 2 ms-per-request processor answer, plus the 256
		// requests its receive queue held when the flood stopped
		Expect(st.Answered).To(BeNumerically("~", 1000+256, 5))
	})

	It("replays the same frames from the same start", func() {
		Expect(flood(check.Without(check.PoufRateLimit))).To(Equal(flood(check.Without(check.PoufRateLimit))))
	})

	It("refuses a rate that is not positive and a request that is not one single frame", func() {
		onBench(func(b *bench) {
			_, err := bus.StartFlood(b.bus, b.sim, ch, "f", bus.FloodConfig{})
			Expect(err).To(MatchError(ContainSubstring("flood rate 0 requests/s")))
			_, err = bus.StartFlood(b.bus, b.sim, ch, "f", bus.FloodConfig{Rate: 10, Request: make([]byte, 8)})
			Expect(err).To(MatchError(ContainSubstring("1..7 bytes")))
		})
	})
})
