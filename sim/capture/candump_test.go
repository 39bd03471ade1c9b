package capture_test

import (
	"bytes"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

var _ = Describe("candump -L logs", func() {
	It("parse every frame kind of the format", func() {
		log := "(1700000000.123456) vcan0 123#DEADBEEF\r\n" +
			"\n" +
			"(1700000000.200000) can1 18DAF110#021003\n" +
			"(1700000000.300000) vcan0 055#R\n" +
			"(1700000000.300001) vcan0 055#R3\n" +
			"(1700000000.400000) vcan0 7E0##1000102030405060708090A0B\n" +
			"(1700000000.500000) vcan0 010##3\n" +
			"(1700000000.600000) vcan0 123#11.22.33\n" +
			"(1700000000.700000) vcan0 123#1122334455667788_F\n" +
			"(1700000000.800000) vcan0 20000008#0000000800000000\n" +
			"(1700000000.900000) vcan0 7FF#\n"
		recs, err := capture.ParseCandumpLog(strings.NewReader(log))
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(10))
		Expect(recs[0].Time).To(Equal(time.Unix(1700000000, 123456000).UTC()))
		Expect(recs[0].Iface).To(Equal("vcan0"))
		Expect(recs[0].Frame).To(Equal(can.New(0x123, []byte{0xde, 0xad, 0xbe, 0xef})))
		Expect(recs[1].Iface).To(Equal("can1"))
		Expect(recs[1].Frame).To(Equal(can.Frame{ID: 0x18daf110, Extended: true, Len: 3, Data: [64]byte{2, 0x10, 3}}))
		Expect(recs[2].Frame).To(Equal(can.Frame{ID: 0x55, Remote: true}))
		Expect(recs[3].Frame).To(Equal(can.Frame{ID: 0x55, Remote: true, Len: 3}))
		Expect(recs[4].Frame.FD && recs[4].Frame.BRS && !recs[4].Frame.ESI).To(BeTrue())
		Expect(recs[4].Frame.Payload()).To(Equal([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}))
		Expect(recs[5].Frame).To(Equal(can.Frame{ID: 0x10, FD: true, BRS: true, ESI: true}))
		Expect(recs[6].Frame.Payload()).To(Equal([]byte{0x11, 0x22, 0x33}))
		Expect(recs[7].Frame.Len).To(BeEquivalentTo(8))
		Expect(recs[8].Error).To(BeTrue())
		Expect(recs[8].Frame.ID).To(BeEquivalentTo(capture.ErrClassProt))
		Expect(recs[9].Frame).To(Equal(can.Frame{ID: 0x7ff}))
		for _, r := range recs {
			Expect(r.Frame.Validate()).To(Succeed())
		}
	})

	It("format what they parse, byte for byte for canonical lines", func() {
		for _, line := range []string{
			"(1700000000.123456) vcan0 123#DEADBEEF",
			"(1700000000.000001) powertrain 18DAF110#021003",
			"(0.000000) x 055#R",
			"(1700000000.300001) vcan0 055#R3",
			"(1700000000.400000) vcan0 7E0##1000102030405060708090A0B",
			"(1700000000.400000) vcan0 7E0##2",
			"(1700000000.800000) vcan0 20000008#0000000800000000",
		} {
			r, err := capture.ParseCandumpLine(line)
			Expect(err).NotTo(HaveOccurred(), line)
			Expect(capture.FormatCandump(r)).To(Equal(line))
		}
	})

	It("report the line and column of every error", func() {
		for _, c := range []struct {
			line      string
			col       int
			substring string
		}{
			{"1700000000.123456) vcan0 123#00", 1, "timestamp opening"},
			{"(.123456) vcan0 123#00", 2, "seconds missing"},
			{"(1700000000.12345) vcan0 123#00", 13, "exactly 6 fraction digits"},
			{"(1700000000.1234567) vcan0 123#00", 19, "more than 6"},
			{"(1700000000.123456)  vcan0 123#00", 21, "interface name missing"},
			{"(1700000000.123456) vcan0", 26, "line ends where separator"},
			{"(1700000000.123456) averyveryverylongname 123#00", 21, "longer than 15"},
			{"(1700000000.123456) vcan0 1234#00", 27, "3 (standard) or 8 (extended)"},
			{"(1700000000.123456) vcan0 800#00", 27, "does not fit in 11 bits"},
			{"(1700000000.123456) vcan0 12G#00", 29, "in CAN identifier"},
			{"(1700000000.123456) vcan0 123#0", 31, "single hex digit"},
			{"(1700000000.123456) vcan0 123#0011223344556677889", 47, "more than 8 data bytes"},
			{"(1700000000.123456) vcan0 123##1001122334455667788", 33, "not a valid CAN FD length"},
			{"(1700000000.123456) vcan0 123##8", 32, "reserved bit"},
			{"(1700000000.123456) vcan0 123#R9", 32, "more than 8"},
			{"(1700000000.123456) vcan0 123#00 T", 33, "after the frame"},
			{"(1700000000.123456) vcan0 123#..00", 31, "must separate"},
			{"(1700000000.123456) vcan0 123#0011_F", 35, "needs a length of 8"},
			{"(1700000000.123456) vcan0 123#0011223344556677_8", 48, "not 9..F"},
			{"(1700000000.123456) vcan0 40000000#", 27, "flags beyond CAN_ERR_FLAG"},
			{"(1700000000.123456) vcan0 20000000##0", 36, "cannot be CAN FD"},
		} {
			_, err := capture.ParseCandumpLog(strings.NewReader("(1.000000) ok 001#\n\n" + c.line + "\n"))
			var pe *capture.ParseError
			Expect(errors.As(err, &pe)).To(BeTrue(), "%q gave %v", c.line, err)
			Expect(pe.Line).To(Equal(3), c.line)
			Expect(pe.Column).To(Equal(c.col), "%q: %v", c.line, err)
			Expect(pe.Error()).To(ContainSubstring(c.substring))
			Expect(pe.Error()).To(HavePrefix("capture: candump log line 3 column "))
		}
	})

	It("replay onto a bus on the clock, keeping the relative timestamps", func() {
		log := "(1700000000.000000) vcan0 100#01\n" +
			"(1700000000.250000) vcan0 100#02\n" +
			"(1700000000.250000) other 100#FF\n" +
			"(1700000000.250000) vcan0 20000008#0000000800000000\n" +
			"(1700000001.000000) vcan0 100#03\n"
		recs, err := capture.ParseCandumpLog(strings.NewReader(log))
		Expect(err).NotTo(HaveOccurred())
		for _, speed := range []float64{1, 2} {
			clk := clock.NewSim(time.Time{})
			Expect(clk.Run("root", func() {
				b := vbus.New(vbus.Config{Clock: clk})
				player, _ := b.Attach("player")
				rx, _ := b.Attach("rx")
				var at []time.Duration
				var data []byte
				clk.Go("rx", func() {
					for {
						f, err := rx.Recv(clock.Forever)
						if err != nil {
							return
						}
						at = append(at, clk.Elapsed())
						data = append(data, f.Data[0])
					}
				})
				clk.Sleep(time.Second)
				n, err := capture.Replay(clk, player, recs, capture.ReplayOptions{Iface: "vcan0", Speed: speed})
				Expect(err).NotTo(HaveOccurred())
				Expect(n).To(Equal(3))
				clk.Sleep(0)
				sec := time.Duration(float64(time.Second) / speed)
				Expect(at).To(Equal([]time.Duration{time.Second, time.Second + sec/4, time.Second + sec}))
				Expect(data).To(Equal([]byte{1, 2, 3}))
			})).To(Succeed())
		}
	})

	It("are written by a bus tap, and read back to the same frames", func() {
		var pcap, log bytes.Buffer
		events := busTraffic(&pcap, &log)
		recs, err := capture.ParseCandumpLog(&log)
		Expect(err).NotTo(HaveOccurred())
		fromPcap, err := capture.ReadPcap(&pcap)
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(len(fromPcap)))
		for i := range recs {
			Expect(recs[i].Iface).To(Equal("vcan0"))
			Expect(recs[i].Frame).To(Equal(fromPcap[i].Frame))
			Expect(recs[i].Error).To(Equal(fromPcap[i].Error))
			Expect(recs[i].Time.Equal(fromPcap[i].Time.Truncate(time.Microsecond))).To(BeTrue())
		}
		Expect(len(events)).To(BeNumerically(">", len(recs)))
	})
})
