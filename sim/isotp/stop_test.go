package isotp_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

var _ = Describe("a simulation that stops while a Send waits for flow control", func() {
	It("ends: the sender's actor unwinds without keeping the channel locked", func() {
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			simEnv(vbus.Config{}, func(e *env) {
				c := e.conn(optsA()) // nobody answers the first frame with FC
				e.sendAsync(c, make([]byte, 100))
				e.clk.Sleep(time.Millisecond) // the sender is in its N_Bs wait
				// the root returns: the clock stops every actor
			})
		}()
		Eventually(done, 30*time.Second).Should(BeClosed(), "the clock's Run did not return: a stopped Send kept the channel's lock")
	})
})
