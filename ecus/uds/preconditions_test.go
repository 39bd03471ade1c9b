package uds_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/uds"
)

var _ = Describe("programming preconditions (ServerConfig.Preconditions)", func() {
	It("refuse the programming session and file transfers with 0x22 while unmet, and allow them once they hold", func() {
		driving := true
		cfg := uds.ServerConfig{Preconditions: func() error {
			if driving {
				return errors.New("vehicle speed 50 km/h")
			}
			return nil
		}}
		run(cfg, func(b *bench) {
			b.enter(uds.ExtendedSession)
			Expect(b.ask(0x10, 0x02)).To(Equal(nrc(0x10, uds.ConditionsNotCorrect)))
			Expect(b.srv.Session()).To(Equal(uds.ExtendedSession))
			Expect(b.ask(0x36, 0x01, 0xAA)).To(Equal(nrc(0x36, uds.ConditionsNotCorrect)))
			Expect(b.ask(0x37)).To(Equal(nrc(0x37, uds.ConditionsNotCorrect)))
			Expect(b.ask(0x38, 0x01)).To(Equal(nrc(0x38, uds.ConditionsNotCorrect)))
			Expect(b.ask(0x10, 0x03)).To(Equal([]byte{0x50, 0x03, 0x00, 0x32, 0x01, 0xF4}), "other sessions are not guarded")
			driving = false
			b.enter(uds.ProgrammingSession)
			Expect(b.srv.Session()).To(Equal(uds.ProgrammingSession))
		})
	})

	It("also guard the start of GuardedRoutines (an install), not other routines nor the results of a guarded one", func() {
		driving := true
		cfg := uds.ServerConfig{GuardedRoutines: []uint16{0xFF12}, Preconditions: func() error {
			if driving {
				return errors.New("vehicle speed 50 km/h")
			}
			return nil
		}}
		run(cfg, func(b *bench) {
			b.enter(uds.ExtendedSession)
			Expect(b.ask(0x31, 0x01, 0xFF, 0x12)).To(Equal(nrc(0x31, uds.ConditionsNotCorrect)))
			Expect(b.ask(0x31, 0x01, 0xFF, 0x13)).NotTo(Equal(nrc(0x31, uds.ConditionsNotCorrect)), "another routine")
			Expect(b.ask(0x31, 0x03, 0xFF, 0x12)).NotTo(Equal(nrc(0x31, uds.ConditionsNotCorrect)), "requestRoutineResults")
			driving = false
			Expect(b.ask(0x31, 0x01, 0xFF, 0x12)).NotTo(Equal(nrc(0x31, uds.ConditionsNotCorrect)))
		})
	})
})
