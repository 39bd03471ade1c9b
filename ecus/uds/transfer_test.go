package uds_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

var _ = Describe("file transfer 0x38 / 0x36 / 0x37", func() {
	It("downloads a file in blocks, announces maxNumberOfBlockLength, and commits on RequestTransferExit", func() {
		data := seq(10000)
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			resp, err := b.client.FileTransfer(dl("image/fw.bin", len(data)))
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.MaxBlockLength).To(Equal(uint64(4095)))
			Expect(b.ask(0x37)).To(Equal(nrc(0x37, uds.RequestSequenceError)), "exit before the whole file")
			for i, off := 0, 0; off < len(data); i, off = i+1, off+4093 {
				_, err := b.client.TransferData(byte(i+1), data[off:min(off+4093, len(data))])
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(b.ecu.files).NotTo(HaveKey("image/fw.bin"), "nothing stored before the exit")
			Expect(b.client.TransferExit()).To(Succeed())
		})
		Expect(b.ecu.files["image/fw.bin"]).To(Equal(data))
	})
	It("wraps the block sequence counter from 0xFF to 0x00", func() {
		data := seq(8 * 300)
		b := run(uds.ServerConfig{MaxBlockLength: 10, RateLimit: 1000}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			b.put("meta/x", data, 8)
		})
		Expect(b.ecu.files["meta/x"]).To(Equal(data))
		Expect(b.ecu.writes).To(Equal(300))
	})
	It("acknowledges a repeated block without writing it again (a resend after a lost response)", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("f", 6))
			Expect(err).NotTo(HaveOccurred())
			Expect(b.ask(0x36, 0x01, 1, 2, 3)).To(Equal([]byte{0x76, 0x01}))
			Expect(b.ask(0x36, 0x01, 1, 2, 3)).To(Equal([]byte{0x76, 0x01}))
			Expect(b.ask(0x36, 0x02, 4, 5, 6)).To(Equal([]byte{0x76, 0x02}))
			Expect(b.ask(0x37)).To(Equal([]byte{0x77}))
		})
		Expect(b.ecu.files["f"]).To(Equal([]byte{1, 2, 3, 4, 5, 6}))
		Expect(b.ecu.writes).To(Equal(2))
	})
	It("answers wrongBlockSequenceCounter (0x73) to a block out of sequence and keeps the transfer", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("f", 4))
			Expect(err).NotTo(HaveOccurred())
			Expect(b.ask(0x36, 0x02, 1, 2)).To(Equal(nrc(0x36, uds.WrongBlockSequenceCounter)))
			Expect(b.ask(0x36, 0x01, 1, 2)).To(Equal([]byte{0x76, 0x01}))
			Expect(b.ask(0x36, 0x03, 3, 4)).To(Equal(nrc(0x36, uds.WrongBlockSequenceCounter)))
			Expect(b.ask(0x36, 0x02, 3, 4)).To(Equal([]byte{0x76, 0x02}))
			Expect(b.ask(0x37)).To(Equal([]byte{0x77}))
		})
		Expect(b.ecu.files["f"]).To(Equal([]byte{1, 2, 3, 4}))
	})
	It("answers requestSequenceError (0x24) to TransferData and RequestTransferExit without RequestFileTransfer", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			Expect(b.ask(0x36, 0x01, 1)).To(Equal(nrc(0x36, uds.RequestSequenceError)))
			Expect(b.ask(0x37)).To(Equal(nrc(0x37, uds.RequestSequenceError)))
		})
	})
	It("suspends a transfer that goes past its announced size (0x71, pouf.transfer_size) and discards it", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("f", 4))
			Expect(err).NotTo(HaveOccurred())
			Expect(b.ask(0x36, 0x01, 1, 2, 3)).To(Equal([]byte{0x76, 0x01}))
			Expect(b.ask(0x36, 0x02, 4, 5)).To(Equal(nrc(0x36, uds.TransferDataSuspended)))
			Expect(b.ask(0x36, 0x03, 6)).To(Equal(nrc(0x36, uds.RequestSequenceError)))
		})
		Expect(b.ecu.aborts).To(Equal([]bool{false}))
		Expect(b.ecu.files).To(BeEmpty())
		Expect(b.ecu.writes).To(Equal(1))
		Expect(b.hits).To(HaveLen(1))
		Expect(b.hits[0].Limit).To(Equal(uds.TransferSize))
		Expect(b.hits[0].Detail).To(ContainSubstring("announced 4 bytes"))
	})
	It("refuses an announced size over the configured maximum (0x31, pouf.transfer_size), unless the limit is lifted", func() {
		b := run(uds.ServerConfig{MaxFileSize: 100}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("f", 101))
			Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue())
			_, err = b.client.FileTransfer(dl("f", 100))
			Expect(err).NotTo(HaveOccurred())
		})
		Expect(b.hits).To(HaveLen(1))
		Expect(b.hits[0].Limit).To(Equal(uds.TransferSize))
		run(uds.ServerConfig{MaxFileSize: 100, Lifted: []uds.Limit{uds.TransferSize}}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			b.put("f", seq(150), 100)
			Expect(b.ecu.files["f"]).To(HaveLen(150))
		})
	})
	It("refuses a block longer than maxNumberOfBlockLength (0x13) and an empty block (0x13)", func() {
		run(uds.ServerConfig{MaxBlockLength: 6}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("f", 10))
			Expect(err).NotTo(HaveOccurred())
			Expect(b.ask(0x36, 0x01, 1, 2, 3, 4, 5)).To(Equal(nrc(0x36, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x36, 0x01)).To(Equal(nrc(0x36, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x36, 0x01, 1, 2, 3, 4)).To(Equal([]byte{0x76, 0x01}))
		})
	})
	It("is only available in the programming session (0x7F)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ExtendedSession)
			_, err := b.client.FileTransfer(dl("f", 1))
			Expect(uds.IsNRC(err, uds.ServiceNotSupportedInActiveSession)).To(BeTrue())
			Expect(b.ask(0x36, 0x01, 1)).To(Equal(nrc(0x36, uds.ServiceNotSupportedInActiveSession)))
		})
	})
	It("refuses a second transfer while one is active (0x22)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("f", 1))
			Expect(err).NotTo(HaveOccurred())
			_, err = b.client.FileTransfer(dl("g", 1))
			Expect(uds.IsNRC(err, uds.ConditionsNotCorrect)).To(BeTrue())
		})
	})
	It("checks the request format: mode (0x31), data format (0x31), path (0x31), lengths (0x13)", func() {
		run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			Expect(b.ask(0x38, 0x07, 0x00, 0x01, 'f')).To(Equal(nrc(0x38, uds.RequestOutOfRange)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x01, 'f', 0x11, 0x01, 0x01, 0x01)).To(Equal(nrc(0x38, uds.RequestOutOfRange)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x01, ' ', 0x00, 0x01, 0x01, 0x01)).To(Equal(nrc(0x38, uds.RequestOutOfRange)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01)).To(Equal(nrc(0x38, uds.RequestOutOfRange)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x01, 'f', 0x00, 0x09)).To(Equal(nrc(0x38, uds.RequestOutOfRange)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x01, 'f', 0x00, 0x01, 0x01, 0x02)).To(Equal(nrc(0x38, uds.RequestOutOfRange)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x05, 'f')).To(Equal(nrc(0x38, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x38, 0x03, 0x00, 0x01, 'f', 0x00, 0x01, 0x01)).To(Equal(nrc(0x38, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x38, 0x02, 0x00, 0x01, 'f', 0x00)).To(Equal(nrc(0x38, uds.IncorrectMessageLengthOrInvalidFormat)))
			Expect(b.ask(0x38, 0x03)).To(Equal(nrc(0x38, uds.IncorrectMessageLengthOrInvalidFormat)))
		})
	})
	It("maps a refused download to uploadDownloadNotAccepted (0x70), a failed write or commit to generalProgrammingFailure (0x72)", func() {
		b := run(uds.ServerConfig{}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			b.ecu.refuseFiles = true
			_, err := b.client.FileTransfer(dl("f", 2))
			Expect(uds.IsNRC(err, uds.UploadDownloadNotAccepted)).To(BeTrue())
			b.ecu.refuseFiles = false

			_, err = b.client.FileTransfer(dl("f", 2))
			Expect(err).NotTo(HaveOccurred())
			b.ecu.failWrite = true
			_, err = b.client.TransferData(1, []byte{1, 2})
			Expect(uds.IsNRC(err, uds.GeneralProgrammingFailure)).To(BeTrue())
			b.ecu.failWrite = false

			_, err = b.client.FileTransfer(dl("f", 2))
			Expect(err).NotTo(HaveOccurred())
			_, err = b.client.TransferData(1, []byte{1, 2})
			Expect(err).NotTo(HaveOccurred())
			b.ecu.failCommit = true
			err = b.client.TransferExit()
			Expect(uds.IsNRC(err, uds.GeneralProgrammingFailure)).To(BeTrue())
		})
		Expect(b.ecu.files).To(BeEmpty())
		Expect(b.ecu.aborts).To(Equal([]bool{false, false}))
	})
	It("uploads a file with ReadFile, resending a repeated block, and deletes it with DeleteFile", func() {
		data := seq(20)
		b := run(uds.ServerConfig{MaxBlockLength: 10}, func(b *bench) {
			b.ecu.files["log"] = data
			b.enter(uds.ProgrammingSession)
			resp, err := b.client.FileTransfer(uds.FileRequest{Mode: uds.ReadFile, Path: "log"})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Size).To(Equal(uint64(20)))
			var got []byte
			for bsc := byte(1); len(got) < 20; bsc++ {
				blk, err := b.client.TransferData(bsc, nil)
				Expect(err).NotTo(HaveOccurred())
				again, err := b.client.TransferData(bsc, nil)
				Expect(err).NotTo(HaveOccurred())
				Expect(again).To(Equal(blk))
				got = append(got, blk...)
			}
			Expect(got).To(Equal(data))
			_, err = b.client.TransferData(4, nil)
			Expect(uds.IsNRC(err, uds.RequestSequenceError)).To(BeTrue())
			Expect(b.client.TransferExit()).To(Succeed())
			_, err = b.client.FileTransfer(uds.FileRequest{Mode: uds.DeleteFile, Path: "log"})
			Expect(err).NotTo(HaveOccurred())
			_, err = b.client.FileTransfer(uds.FileRequest{Mode: uds.ReadFile, Path: "log"})
			Expect(uds.IsNRC(err, uds.RequestOutOfRange)).To(BeTrue())
		})
		Expect(b.ecu.files).To(BeEmpty())
	})
	It("resumes a transfer interrupted by a session loss from the position the ECU holds (ResumeFile)", func() {
		data := seq(4000)
		b := run(uds.ServerConfig{MaxBlockLength: 1002}, func(b *bench) {
			b.enter(uds.ProgrammingSession)
			_, err := b.client.FileTransfer(dl("image/fw", len(data)))
			Expect(err).NotTo(HaveOccurred())
			for i := 0; i < 2; i++ {
				_, err := b.client.TransferData(byte(i+1), data[i*1000:(i+1)*1000])
				Expect(err).NotTo(HaveOccurred())
			}
			// the tester goes quiet: S3 ends the session and suspends the transfer
			b.sim.Sleep(6 * time.Second)
			b.enter(uds.ProgrammingSession)
			_, err = b.client.TransferData(3, data[2000:3000])
			Expect(uds.IsNRC(err, uds.RequestSequenceError)).To(BeTrue())

			req := dl("image/fw", len(data))
			req.Mode = uds.ResumeFile
			resp, err := b.client.FileTransfer(req)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.Position).To(Equal(uint64(2000)))
			for i, off := 0, int(resp.Position); off < len(data); i, off = i+1, off+1000 {
				_, err := b.client.TransferData(byte(i+1), data[off:off+1000])
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(b.client.TransferExit()).To(Succeed())
		})
		Expect(b.ecu.files["image/fw"]).To(Equal(data))
		Expect(b.ecu.aborts).To(Equal([]bool{true}))
	})
})

var _ = Describe("the client", func() {
	It("times out after P2 plus slack when nothing answers, naming the service", func() {
		newSimRun(func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim) {
			_, err := c.ReadDID(0xF18C)
			var te *uds.TimeoutError
			Expect(err).To(BeAssignableToTypeOf(te))
			Expect(err.Error()).To(Equal("uds: ReadDataByIdentifier (0x22): no response within 300ms (P2)"))
			Expect(sim.Elapsed()).To(Equal(300 * time.Millisecond))
		})
	})
	It("waits P2* after a 0x78 and gives up after MaxPendingTime of them", func() {
		newSimRun(func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim) {
			ecu.Send([]byte{0x7F, 0x31, 0x78})
			_, err := c.Routine(uds.StartRoutine, 1, nil)
			Expect(err.Error()).To(ContainSubstring("no response within 5.25s (P2*) after 1 response-pending"))
		})
		newSimRun(func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim) {
			clk := sim
			clk.Go("chatty", func() {
				for {
					if _, err := ecu.Recv(-1); err != nil {
						return
					}
					for {
						if ecu.Send([]byte{0x7F, 0x31, 0x78}) != nil {
							return
						}
						clk.Sleep(time.Second)
					}
				}
			})
			_, err := c.Routine(uds.StartRoutine, 1, nil)
			var te *uds.TimeoutError
			Expect(err).To(BeAssignableToTypeOf(te))
			Expect(err.Error()).To(ContainSubstring("response-pending limit"))
			Expect(sim.Elapsed()).To(BeNumerically("~", uds.DefaultMaxPendingTime, time.Second))
		})
	})
	It("skips answers to other requests and reports a response that does not echo the request", func() {
		newSimRun(func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim) {
			ecu.Send([]byte{0x7E, 0x00})                 // late TesterPresent answer
			ecu.Send([]byte{0x7F, 0x3E, 0x12})           // late refusal of another service
			ecu.Send([]byte{0x62, 0xF1, 0x8D, 'x', 'y'}) // wrong DID
			_, err := c.ReadDID(0xF18C)
			var pe *uds.ProtocolError
			Expect(err).To(BeAssignableToTypeOf(pe))
			Expect(err.Error()).To(ContainSubstring("ReadDataByIdentifier (0x22)"))
			ecu.Send([]byte{0x7F, 0x22, 0x33})
			_, err = c.ReadDID(0xF18C)
			Expect(err.Error()).To(Equal("uds: ReadDataByIdentifier (0x22): securityAccessDenied (0x33)"))
		})
	})
})

var _ = Describe("the client under a flood of answers that are not its own", func() {
	// Another tester floods the ECU with TesterPresent on the same
	// identifiers: its answers, positive and busy, 1000 a second, reach
	// this client too (ISO 15765-2 addressing knows no tester).
	flood := func(ecu *uds.PipeEnd, clk clock.Clock, answerAfter time.Duration) {
		clk.Go("flood answers", func() {
			req, err := ecu.Recv(-1)
			if err != nil {
				return
			}
			start := clk.Now()
			for i := 0; ; i++ {
				if answerAfter > 0 && clk.Since(start) >= answerAfter {
					_ = ecu.Send(append([]byte{req[0] + 0x40}, req[1:]...))
					return
				}
				msg := []byte{0x7E, 0x00}
				if i%5 != 0 {
					msg = []byte{0x7F, 0x3E, 0x21}
				}
				if ecu.Send(msg) != nil {
					return
				}
				clk.Sleep(time.Millisecond)
			}
		})
	}
	It("waits through any number of them for its answer within P2: a count of unrelated messages is no timer", func() {
		newSimRun(func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim) {
			// 290 foreign answers before its own, just within P2 + slack
			flood(ecu, sim, uds.DefaultP2+uds.DefaultSlack-10*time.Millisecond)
			resp, err := c.Do([]byte{0x22, 0xF1, 0x8C})
			Expect(err).NotTo(HaveOccurred())
			Expect(resp).To(Equal([]byte{0x62, 0xF1, 0x8C}))
		})
	})
	It("gives up at P2 when its answer does not come, not sooner", func() {
		newSimRun(func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim) {
			flood(ecu, sim, 0)
			start := sim.Now()
			_, err := c.Do([]byte{0x22, 0xF1, 0x8C})
			var te *uds.TimeoutError
			Expect(err).To(BeAssignableToTypeOf(te))
			Expect(err.Error()).To(ContainSubstring("(P2)"))
			Expect(sim.Since(start)).To(Equal(uds.DefaultP2 + uds.DefaultSlack))
			ecu.Close()
		})
	})
})

// newSimRun runs body with a client whose server side is a raw pipe end.
func newSimRun(body func(c *uds.Client, ecu *uds.PipeEnd, sim *clock.Sim)) {
	GinkgoHelper()
	sim := clock.NewSim(time.Time{})
	sim.SetHorizon(24 * time.Hour)
	tester, ecu := uds.Pipe(sim)
	c := uds.NewClient(tester, sim, uds.ClientConfig{})
	Expect(sim.Run("tester", func() {
		body(c, ecu, sim)
		tester.Close()
	})).To(Succeed())
}
