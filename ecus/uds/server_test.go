package uds_test

import (
	"bytes"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/uds"
)

var _ = Describe("DiagnosticSessionControl 0x10", func() {
	It("enters the extended session and announces P2 in ms and P2* in 10 ms", func() {
		run(uds.ServerConfig{P2: 40 * time.Millisecond, P2Star: 3 * time.Second}, func(b *bench) {
			Expect(b.ask(0x10, 0x03)).To(Equal([]byte{0x50, 0x03, 0x00, 0x28, 0x01, 0x2C}))
			Expect(b.srv.Session()).To(Equal(uds.ExtendedSession))
			p2, p2s, err := b.client.StartSession(uds.ExtendedSession)
			Expect(err).NotTo(HaveOccurred())
			Expect(p2).To(Equal(40 * time.Millisecond))
			Expect(p2s).To(Equal(3 * time.Second))
			p2c, _ := b.client.Timing()
			Expect(p2c).To(Equal(40 * time.Millisecond))
		})
	})
	It("enters the programming session only from the extended session (0x7E otherwise)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x10, 0x02)).To(Equal(nrc(0x10, uds.SubFunctionNotSupportedInActiveSession)))
			Expect(b.srv.Session()).To(Equal(uds.DefaultSession))
			b.enter(uds.ProgrammingSession)
			Expect(b.srv.Session()).To(Equal(uds.ProgrammingSession))
		})
	})
	It("refuses an unknown session (0x12), a wrong length (0x13), and a session the ECU refuses (0x22)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x10, 0x05)).To(Equal(nrc(0x10, uds.SubFunctionNotSupported)))
			Expect(b.ask(0x10)).To(Equal(nrc(0x10, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x10, 0x03, 0x00)).To(Equal(nrc(0x10, uds.IncorrectMessageLengthOrInvalidFormat)))
			b.ecu.refuseSess = true
			_, _, err := b.client.StartSession(uds.ExtendedSession)
			Expect(uds.IsNRC(err, uds.ConditionsNotCorrect)).To(BeTrue(), "%v", err)
			Expect(b.srv.Session()).To(Equal(uds.DefaultSession))
		})
	})
	It("sends nothing when suppressPosRsp is set, but still changes session", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x10, 0x83)).To(BeNil())
			Expect(b.srv.Session()).To(Equal(uds.ExtendedSession))
		})
	})
	It("falls back to the default session after S3 without requests; TesterPresent keeps it", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			for i := 0; i < 5; i++ {
				b.sim.Sleep(2 * time.Second)
				Expect(b.client.TesterPresent(true)).To(Succeed())
			}
			Expect(b.client.WriteDID(0xF1A3, []byte{1})).To(Succeed())
			b.sim.Sleep(uds.DefaultS3 + time.Millisecond)
			err := b.client.WriteDID(0xF1A3, []byte{2})
			Expect(uds.IsNRC(err, uds.ServiceNotSupportedInActiveSession)).To(BeTrue(), "%v", err)
			Expect(b.srv.Session()).To(Equal(uds.DefaultSession))
		})
	})
})

var _ = Describe("ECUReset 0x11", func() {
	It("answers, then resets the ECU into the default session, suspending a transfer", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("image/a", 8))
			Expect(err).NotTo(HaveOccurred())
			_, err = b.client.TransferData(1, []byte{1, 2, 3})
			Expect(err).NotTo(HaveOccurred())
			Expect(b.client.Reset(uds.HardReset)).To(Succeed())
			Expect(b.srv.Session()).To(Equal(uds.DefaultSession))
			Expect(b.ask(0x11, 0x82)).To(BeNil()) // suppressed
		})
		Expect(b.ecu.resets).To(Equal([]uds.ResetType{uds.HardReset, uds.KeyOffOnReset}))
		Expect(b.ecu.aborts).To(Equal([]bool{true}))
		Expect(b.ecu.partial).To(HaveKeyWithValue("image/a", []byte{1, 2, 3}))
	})
	It("refuses an unknown reset type (0x12) and a wrong length (0x13)", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x11, 0x05)).To(Equal(nrc(0x11, uds.SubFunctionNotSupported)))
			Expect(b.ask(0x11, 0x01, 0x00)).To(Equal(nrc(0x11, uds.IncorrectMessageLengthOrInvalidFormat)))
		})
		Expect(b.ecu.resets).To(BeEmpty())
	})
})

var _ = Describe("ReadDataByIdentifier 0x22", func() {
	It("reads one identifier and several at once, skipping the unsupported ones", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			v, err := b.client.ReadDID(0xF18C)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(v)).To(Equal("ecu-1"))
			Expect(b.ask(0x22, 0xF1, 0x8C, 0x12, 0x34, 0xF1, 0x91)).To(Equal(
				append(append([]byte{0x62, 0xF1, 0x8C}, "ecu-1"...), append([]byte{0xF1, 0x91}, "hw-a"...)...)))
		})
	})
	It("answers requestOutOfRange (0x31) for an unknown identifier", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			_, err := b.client.ReadDID(0x1234)
			Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue())
			Expect(err.Error()).To(Equal("uds: ReadDataByIdentifier (0x22): requestOutOfRange (0x31)"))
		})
	})
	It("answers 0x13 for a malformed or too long list, 0x14 for a response over the limit", func() {
		run(uds.ServerConfig{MaxDIDsPerRead: 2}, func(b *bench) {
			Expect(b.ask(0x22, 0xF1)).To(Equal(nrc(0x22, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x22)).To(Equal(nrc(0x22, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x22, 0xF1, 0x8C, 0xF1, 0x8C, 0xF1, 0x8C)).To(Equal(nrc(0x22, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x22, 0xBE, 0xEF)).To(Equal(nrc(0x22, uds.ResponseTooLong)))
		})
	})
	It("maps a secured identifier to 0x33, a plain handler error and a handler panic to generalReject (0x10)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x22, 0xF1, 0xB0)).To(Equal(nrc(0x22, uds.SecurityAccessDenied)))
			Expect(b.ask(0x22, 0xDE, 0xAD)).To(Equal(nrc(0x22, uds.GeneralReject)))
			b.ecu.panicDID = 0xF18C
			Expect(b.ask(0x22, 0xF1, 0x8C)).To(Equal(nrc(0x22, uds.GeneralReject)))
			b.ecu.panicDID = 0
			Expect(b.ask(0x22, 0xF1, 0x8C)).To(HavePrefix("b")) // 0x62, the server still serves
		})
	})
})

var _ = Describe("WriteDataByIdentifier 0x2E", func() {
	It("writes in the extended session and echoes the identifier", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			Expect(b.ask(0x2E, 0xF1, 0xA3, 9, 8, 7)).To(Equal([]byte{0x6E, 0xF1, 0xA3}))
		})
		Expect(b.ecu.dids[0xF1A3]).To(Equal([]byte{9, 8, 7}))
	})
	It("is not available in the default session (0x7F)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x2E, 0xF1, 0xA3, 1)).To(Equal(nrc(0x2E, uds.ServiceNotSupportedInActiveSession)))
		})
	})
	It("refuses no data (0x13), a read-only identifier (0x31), a secured one (0x33)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			Expect(b.ask(0x2E, 0xF1, 0xA3)).To(Equal(nrc(0x2E, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x2E, 0xF1, 0x8C, 1)).To(Equal(nrc(0x2E, uds.RequestOutOfRange)))
			Expect(b.ask(0x2E, 0xF1, 0xB0, 1)).To(Equal(nrc(0x2E, uds.SecurityAccessDenied)))
		})
	})
})

var _ = Describe("RoutineControl 0x31", func() {
	It("starts a routine, returns its results, stops it; stop or results before a start is 0x24", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			Expect(b.ask(0x31, 0x03, 0xFF, 0x12)).To(Equal(nrc(0x31, uds.RequestSequenceError)))
			Expect(b.ask(0x31, 0x02, 0xFF, 0x12)).To(Equal(nrc(0x31, uds.RequestSequenceError)))
			st, err := b.client.Routine(uds.StartRoutine, 0xFF12, []byte{7})
			Expect(err).NotTo(HaveOccurred())
			Expect(st).To(Equal([]byte{0x00, 0x01, 7}))
			Expect(b.ask(0x31, 0x03, 0xFF, 0x12)).To(Equal([]byte{0x71, 0x03, 0xFF, 0x12, 0x00, 0x03}))
			Expect(b.ask(0x31, 0x02, 0xFF, 0x12)).To(Equal([]byte{0x71, 0x02, 0xFF, 0x12, 0x00, 0x02}))
		})
	})
	It("refuses an unknown control type (0x12), a short request (0x13), an unknown routine (0x31), a long status (0x14), the default session (0x7F)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x31, 0x01, 0xFF, 0x12)).To(Equal(nrc(0x31, uds.ServiceNotSupportedInActiveSession)))
			b.enter(uds.ExtendedSession)
			Expect(b.ask(0x31, 0x04, 0xFF, 0x12)).To(Equal(nrc(0x31, uds.SubFunctionNotSupported)))
			Expect(b.ask(0x31, 0x01, 0xFF)).To(Equal(nrc(0x31, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x31, 0x01, 0x12, 0x34)).To(Equal(nrc(0x31, uds.RequestOutOfRange)))
			Expect(b.ask(0x31, 0x01, 0xFF, 0x99)).To(Equal(nrc(0x31, uds.ResponseTooLong)))
		})
	})
	It("answers 0x78 response-pending while a long routine works, then the result; the client waits in simulated time", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			b.ecu.routineTime = 12 * time.Second
			start := b.sim.Now()
			Expect(b.raw.Send([]byte{0x31, 0x01, 0xFF, 0x12})).To(Succeed())
			var pendingAt []time.Duration
			var final []byte
			for final == nil {
				m, err := b.raw.Recv(uds.DefaultP2Star)
				Expect(err).NotTo(HaveOccurred())
				if bytes.Equal(m, nrc(0x31, uds.ResponsePending)) {
					pendingAt = append(pendingAt, b.sim.Since(start))
				} else {
					final = m
				}
			}
			Expect(final).To(Equal([]byte{0x71, 0x01, 0xFF, 0x12, 0x00, 0x01}))
			Expect(b.sim.Since(start)).To(Equal(12 * time.Second))
			Expect(pendingAt).To(Equal([]time.Duration{25 * time.Millisecond, 2525 * time.Millisecond,
				5025 * time.Millisecond, 7525 * time.Millisecond, 10025 * time.Millisecond}))

			// the client: P2 would have expired long before; it waits P2* after each 0x78
			start = b.sim.Now()
			st, err := b.client.Routine(uds.StartRoutine, 0xFF12, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(st).To(Equal([]byte{0x00, 0x01}))
			Expect(b.sim.Since(start)).To(Equal(12 * time.Second))
		})
	})
	It("sends the final response after a 0x78 even when suppressPosRsp is set", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			b.ecu.routineTime = time.Second
			Expect(b.ask(0x31, 0x81, 0xFF, 0x12)).To(Equal(nrc(0x31, uds.ResponsePending)))
			Expect(b.next()).To(Equal([]byte{0x71, 0x01, 0xFF, 0x12, 0x00, 0x01}))
			b.ecu.routineTime = 0
			Expect(b.ask(0x31, 0x81, 0xFF, 0x12)).To(BeNil())
		})
	})
})

var _ = Describe("TesterPresent 0x3E and unknown services", func() {
	It("answers 7E 00, nothing with suppressPosRsp, 0x12 for another sub-function", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			Expect(b.ask(0x3E, 0x80)).To(BeNil())
			Expect(b.ask(0x3E, 0x01)).To(Equal(nrc(0x3E, uds.SubFunctionNotSupported)))
			Expect(b.ask(0x3E)).To(Equal(nrc(0x3E, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.client.TesterPresent(false)).To(Succeed())
		})
	})
	It("answers serviceNotSupported (0x11) to an unknown service and nothing to an empty message", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			Expect(b.ask(0x85, 0x01)).To(Equal(nrc(0x85, uds.ServiceNotSupported)))
			Expect(b.ask()).To(BeNil())
		})
	})
})

var _ = Describe("the flood guard (pouf.rate_limit)", func() {
	It("answers busyRepeatRequest (0x21) beyond the limit per window, tells the check at every busy answer, and serves again in the next window", func() {
		b := run(uds.ServerConfig{RateLimit: 10, RateWindow: 300 * time.Millisecond}, func(b *bench) {
			for i := 0; i < 10; i++ {
				Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			}
			for i := 0; i < 5; i++ {
				Expect(b.ask(0x22, 0xF1, 0x8C)).To(Equal(nrc(0x22, uds.BusyRepeatRequest)))
			}
			// the client repeats a busy request after BusyDelay until the window ends
			start := b.sim.Now()
			v, err := b.client.ReadDID(0xF18C)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(v)).To(Equal("ecu-1"))
			Expect(b.sim.Since(start)).To(Equal(2 * uds.DefaultBusyDelay))
		})
		// 5 asked busy, then the client's first two tries of the read
		Expect(b.hits).To(HaveLen(5+2), "one hit per busy answer: the listener decides what to keep")
		for _, h := range b.hits {
			Expect(h.Limit).To(Equal(uds.RateLimit))
			Expect(h.Detail).To(ContainSubstring("answering busyRepeatRequest"))
		}
	})
	It("returns the 0x21 to the caller once its retries are spent", func() {
		run(uds.ServerConfig{RateLimit: 1, RateWindow: time.Hour}, func(b *bench) {
			Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			_, err := b.client.ReadDID(0xF18C)
			Expect(uds.IsNRC(err, uds.BusyRepeatRequest)).To(BeTrue())
		})
	})
	It("is off when the rate limit is lifted (a control profile without pouf.rate_limit)", func() {
		b := run(uds.ServerConfig{RateLimit: 2, Lifted: []uds.Limit{uds.RateLimit}}, func(b *bench) {
			for i := 0; i < 20; i++ {
				Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			}
		})
		Expect(b.hits).To(BeEmpty())
	})
})

var _ = Describe("the flood guard as a token bucket (RateBurst)", func() {
	It("lets a burst through at once, then one request per RateWindow/RateLimit, evenly, and tells the check at every busy answer", func() {
		var processed []time.Duration
		busy := 0
		b := run(uds.ServerConfig{RateLimit: 10, RateWindow: time.Second, RateBurst: 3}, func(b *bench) {
			start := b.sim.Now()
			// a flood: one request every 10 ms for 1.2 s
			for i := 0; i < 120; i++ {
				if resp := b.ask(0x3E, 0x00); len(resp) == 2 && resp[0] == 0x7E {
					processed = append(processed, b.sim.Since(start))
				} else {
					Expect(resp).To(Equal(nrc(0x3E, uds.BusyRepeatRequest)))
					busy++
				}
				b.sim.Sleep(10 * time.Millisecond)
			}
		})
		// 3 at once, then one every 100 ms: 3 + 11 in 1.2 s
		Expect(processed).To(HaveLen(3 + 11))
		Expect(processed[3]).To(Equal(100 * time.Millisecond))
		Expect(processed[:3]).To(Equal([]time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond}))
		for i := 4; i < len(processed); i++ {
			Expect(processed[i] - processed[i-1]).To(Equal(100 * time.Millisecond))
		}
		Expect(busy).To(Equal(120 - len(processed)))
		Expect(b.hits).To(HaveLen(busy), "one hit per busy answer, in every second of the flood")
		for _, h := range b.hits {
			Expect(h.Limit).To(Equal(uds.RateLimit))
			Expect(h.Detail).To(ContainSubstring("(burst 3)"))
		}
	})
	It("fills up again while nobody asks, up to the burst", func() {
		run(uds.ServerConfig{RateLimit: 10, RateWindow: time.Second, RateBurst: 3}, func(b *bench) {
			for i := 0; i < 3; i++ {
				Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			}
			Expect(b.ask(0x3E, 0x00)).To(Equal(nrc(0x3E, uds.BusyRepeatRequest)))
			b.sim.Sleep(time.Hour)
			for i := 0; i < 3; i++ {
				Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			}
			Expect(b.ask(0x3E, 0x00)).To(Equal(nrc(0x3E, uds.BusyRepeatRequest)))
		})
	})
	It("is off when the rate limit is lifted (a control profile without pouf.rate_limit)", func() {
		b := run(uds.ServerConfig{RateLimit: 1, RateBurst: 1, Lifted: []uds.Limit{uds.RateLimit}}, func(b *bench) {
			for i := 0; i < 20; i++ {
				Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			}
		})
		Expect(b.hits).To(BeEmpty())
	})
})

var _ = Describe("the processor time of a request (ServiceTime)", func() {
	It("answers a processed request ServiceTime later, a busy one at once", func() {
		run(uds.ServerConfig{ServiceTime: 5 * time.Millisecond, RateLimit: 1, RateWindow: time.Hour}, func(b *bench) {
			start := b.sim.Now()
			Expect(b.ask(0x3E, 0x00)).To(Equal([]byte{0x7E, 0x00}))
			Expect(b.sim.Since(start)).To(Equal(5 * time.Millisecond))
			start = b.sim.Now()
			Expect(b.ask(0x3E, 0x00)).To(Equal(nrc(0x3E, uds.BusyRepeatRequest)))
			Expect(b.sim.Since(start)).To(BeZero())
		})
	})
})
