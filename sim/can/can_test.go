package can_test

import (
	"encoding/binary"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

var _ = Describe("Frame", func() {
	It("is CAN FD when New gets more than 8 bytes, extended past 11 bits", func() {
		f := can.New(0x7E0, []byte{1, 2, 3})
		Expect(f.FD).To(BeFalse())
		Expect(f.Extended).To(BeFalse())
		Expect(f.Payload()).To(Equal([]byte{1, 2, 3}))
		f = can.New(0x18DA10F1, make([]byte, 12))
		Expect(f.FD).To(BeTrue())
		Expect(f.Extended).To(BeTrue())
		Expect(f.Validate()).To(Succeed())
	})

	DescribeTable("Validate says what cannot exist on the wire",
		func(f can.Frame, want string) { Expect(f.Validate()).To(MatchError(ContainSubstring(want))) },
		Entry("an 11-bit identifier past 0x7FF", can.Frame{ID: 0x800}, "does not fit in 11 bits"),
		Entry("a 29-bit identifier past 0x1FFFFFFF", can.Frame{ID: 0x20000000, Extended: true}, "does not fit in 29 bits"),
		Entry("a remote CAN FD frame", can.Frame{ID: 1, FD: true, Remote: true}, "no remote frames"),
		Entry("BRS on a classic frame", can.Frame{ID: 1, BRS: true}, "BRS/ESI"),
		Entry("an FD length between the steps", can.Frame{ID: 1, FD: true, Len: 9}, "not a valid CAN FD data length"),
		Entry("a classic frame of 9 bytes", can.Frame{ID: 1, Len: 9}, "classic frame with 9 data bytes"),
	)

	It("knows the CAN FD lengths (ISO 11898-1): valid ones, padding and the DLC", func() {
		for _, n := range []int{0, 1, 7, 8, 12, 16, 20, 24, 32, 48, 64} {
			Expect(can.ValidFDLen(n)).To(BeTrue(), "%d", n)
		}
		for _, n := range []int{9, 13, 33, 63, 65} {
			Expect(can.ValidFDLen(n)).To(BeFalse(), "%d", n)
		}
		Expect(can.FDPadLen(9)).To(Equal(12))
		Expect(can.FDPadLen(49)).To(Equal(64))
		Expect(can.LenToDLC(8)).To(Equal(uint8(8)))
		Expect(can.LenToDLC(12)).To(Equal(uint8(9)))
		Expect(can.LenToDLC(64)).To(Equal(uint8(15)))
	})

	It("prints as candump -L does", func() {
		Expect(can.New(0x123, []byte{0xDE, 0xAD}).String()).To(Equal("123#DEAD"))
		fd := can.New(0x18DA10F1, make([]byte, 12))
		fd.BRS = true
		Expect(fd.String()).To(Equal("18DA10F1##1000000000000000000000000"))
		Expect(can.Frame{ID: 0x10, Remote: true, Len: 2}.String()).To(Equal("010#R2"))
	})
})

var _ = Describe("the SocketCAN frame layout", func() {
	frames := []can.Frame{
		can.New(0x7E0, []byte{2, 0x10, 3}),
		can.New(0x18DA10F1, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		{ID: 0x7DF, Remote: true, Len: 8},
		{ID: 0x7E8, FD: true, BRS: true, ESI: true, Len: 64},
	}
	for _, order := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
		It("encodes and decodes every kind of frame in "+order.String(), func() {
			for _, f := range frames {
				b := can.EncodeSocketCAN(f, false, order)
				if f.FD {
					Expect(b).To(HaveLen(can.SocketCANFDMTU))
					Expect(b[5] & can.FDFlagFDF).NotTo(BeZero())
				} else {
					Expect(b).To(HaveLen(can.SocketCANMTU))
				}
				g, errFrame, err := can.DecodeSocketCAN(b, order)
				Expect(err).NotTo(HaveOccurred())
				Expect(errFrame).To(BeFalse())
				Expect(g).To(Equal(f))
			}
		})
	}

	It("puts the identifier flags in can_id, in the byte order asked for", func() {
		b := can.EncodeSocketCAN(can.New(0x18DA10F1, nil), false, binary.BigEndian)
		Expect(binary.BigEndian.Uint32(b)).To(Equal(uint32(0x18DA10F1 | can.EFFFlag)))
		b = can.EncodeSocketCAN(can.Frame{ID: 0x10, Remote: true}, false, binary.LittleEndian)
		Expect(binary.LittleEndian.Uint32(b)).To(Equal(uint32(0x10 | can.RTRFlag)))
	})

	It("carries error frames: class bits in the identifier, details in the data", func() {
		ef := can.Frame{ID: 0x08, Len: 8}
		ef.Data[3] = 0x08
		b := can.EncodeSocketCAN(ef, true, binary.BigEndian)
		Expect(binary.BigEndian.Uint32(b) & can.ERRFlag).NotTo(BeZero())
		g, errFrame, err := can.DecodeSocketCAN(b, binary.BigEndian)
		Expect(err).NotTo(HaveOccurred())
		Expect(errFrame).To(BeTrue())
		Expect(g.ID).To(Equal(uint32(0x08)))
		Expect(g.Data[3]).To(Equal(uint8(0x08)))
	})

	DescribeTable("refuses what no writer makes, saying what",
		func(b []byte, want string) {
			_, _, err := can.DecodeSocketCAN(b, binary.BigEndian)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("a short header", []byte{0, 0, 1}, "shorter than its 8-byte header"),
		Entry("a standard identifier past 11 bits", []byte{0, 0, 0x08, 0, 0, 0, 0, 0}, "does not fit in 11 bits"),
		Entry("an invalid FD length", []byte{0, 0, 1, 0, 9, can.FDFlagFDF, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "not a valid CAN FD length"),
		Entry("a classic length past 8", []byte{0, 0, 1, 0, 9, 0, 0, 0}, "classic frame with length 9"),
		Entry("an FD frame with RTR", []byte{0x40, 0, 1, 0, 0, can.FDFlagFDF, 0, 0}, "RTR flag"),
		Entry("fewer data bytes than its length", []byte{0, 0, 1, 0, 4, 0, 0, 0, 1}, "only 1 data bytes"),
	)
})
