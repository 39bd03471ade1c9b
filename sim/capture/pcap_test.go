package capture_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

func sampleFrames() []can.Frame {
	fd := can.Frame{ID: 0x7e0, FD: true, BRS: true, Len: 64}
	for i := range fd.Data {
		fd.Data[i] = byte(i * 3)
	}
	return []can.Frame{
		can.New(0x123, []byte{0xde, 0xad, 0xbe, 0xef}),
		can.New(0x000, nil),
		can.New(0x7ff, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		{ID: 0x18daf110, Extended: true, Len: 3, Data: [64]byte{0x02, 0x10, 0x03}},
		{ID: 0x55, Remote: true, Len: 3},
		{ID: 0x1fffffff, Extended: true, Remote: true},
		fd,
		{ID: 0x10, FD: true, ESI: true, Len: 12, Data: [64]byte{0xaa, 0xbb}},
		{ID: 0x1234567, Extended: true, FD: true, Len: 0},
	}
}

var _ = Describe("SocketCAN packets", func() {
	It("round-trip every kind of frame, with the identifier in network byte order", func() {
		for _, f := range sampleFrames() {
			b := capture.EncodeSocketCAN(capture.Record{Frame: f})
			if f.FD {
				Expect(b).To(HaveLen(can.SocketCANFDMTU))
				Expect(b[5] & can.FDFlagFDF).NotTo(BeZero())
			} else {
				Expect(b).To(HaveLen(can.SocketCANMTU))
			}
			Expect(b[3]).To(Equal(byte(f.ID)), "low byte of the ID last")
			r, err := capture.DecodeSocketCAN(b)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Frame).To(Equal(f))
		}
	})

	It("refuses malformed packets with an error saying what is wrong", func() {
		for _, c := range []struct {
			pkt  []byte
			want string
		}{
			{[]byte{1, 2, 3}, "shorter than its 8-byte header"},
			{[]byte{0, 0, 0x08, 0, 1, 0, 0, 0, 1}, "does not fit in 11 bits"},
			{[]byte{0, 0, 1, 0, 9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, "classic frame with length 9"},
			{[]byte{0, 0, 1, 0, 9, can.FDFlagFDF, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "not a valid CAN FD length"},
			{[]byte{0, 0, 1, 0, 4, 0, 0, 0, 1}, "only 1 data bytes"},
			{[]byte{0x40, 0, 1, 0, 0, can.FDFlagFDF, 0, 0}, "CAN FD frame with the RTR flag"},
		} {
			_, err := capture.DecodeSocketCAN(c.pkt)
			Expect(err).To(MatchError(ContainSubstring(c.want)))
			Expect(err.Error()).To(HavePrefix("capture: "))
		}
	})
})

// busTraffic runs a timed FD bus with faults and returns its tap events,
// while tapping it into a pcap and a candump log.
func busTraffic(pcap, log *bytes.Buffer) []can.Event {
	GinkgoHelper()
	var events []can.Event
	clk := clock.NewSim(time.Time{})
	Expect(clk.Run("root", func() {
		b := vbus.New(vbus.Config{Name: "vcan0", Clock: clk, FD: true, Bitrate: 500_000, DataBitrate: 2_000_000, Seed: seed.Seed(1),
			Faults: []vbus.FaultRule{
				{Name: "drop", Kind: vbus.Drop, IDs: []can.Filter{can.Exact(0x000, false)}},
				{Name: "crc", Kind: vbus.Corrupt, IDs: []can.Filter{can.Exact(0x7ff, false)}},
				{Name: "dup", Kind: vbus.Duplicate, IDs: []can.Filter{can.Exact(0x123, false)}},
			}})
		b.Tap(func(ev can.Event) { events = append(events, ev) })
		stop, err := capture.TapPcap(b, pcap)
		Expect(err).NotTo(HaveOccurred())
		stopLog := capture.TapLog(b, log)
		n, err := b.Attach("tester")
		Expect(err).NotTo(HaveOccurred())
		for _, f := range sampleFrames() {
			Expect(n.Send(f)).To(Succeed())
			clk.Sleep(time.Millisecond)
		}
		Expect(stop()).To(Succeed())
		Expect(stopLog()).To(Succeed())
	})).To(Succeed())
	return events
}

var _ = Describe("pcap captures", func() {
	It("hold exactly the frames a receiver saw: dropped frames absent, detected corruption as an error frame", func() {
		var pcap, log bytes.Buffer
		events := busTraffic(&pcap, &log)
		Expect(events).To(HaveLen(len(sampleFrames()) + 1)) // + duplicate
		recs, err := capture.ReadPcap(bytes.NewReader(pcap.Bytes()))
		Expect(err).NotTo(HaveOccurred())
		var want []capture.Record
		size := 24 // pcap file header
		for _, ev := range events {
			r, ok := capture.FromEvent(ev, "")
			if !ok {
				Expect(ev.Fault).To(Equal(can.FaultDrop))
				continue
			}
			want = append(want, r)
			size += 16 + len(capture.EncodeSocketCAN(r))
		}
		Expect(recs).To(HaveLen(len(events) - 1))
		for i := range recs {
			Expect(recs[i].Time.Equal(want[i].Time)).To(BeTrue())
			recs[i].Time = want[i].Time
		}
		Expect(recs).To(Equal(want))
		Expect(recs[2].Error).To(BeTrue(), "0x7ff was corrupted")
		Expect(recs[2].Frame.ID).To(BeEquivalentTo(capture.ErrClassProt))
		// nothing but packet headers and frames: no key material can hide in it
		Expect(pcap.Len()).To(Equal(size))
	})

	It("decode in tshark, every frame with its identifier, flags and data", func() {
		tshark, err := exec.LookPath("tshark")
		Expect(err).NotTo(HaveOccurred(), "tshark is not installed: this spec needs it (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)")
		var pcap, log bytes.Buffer
		busTraffic(&pcap, &log)
		path := filepath.Join(GinkgoT().TempDir(), "bus.pcap")
		Expect(os.WriteFile(path, pcap.Bytes(), 0o600)).To(Succeed())
		cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=|",
			"-e", "can.id", "-e", "can.flags.xtd", "-e", "can.flags.rtr", "-e", "can.flags.err",
			"-e", "can.len", "-e", "canfd.flags.brs", "-e", "canfd.flags.esi", "-e", "data.data")
		cmd.Env = append(os.Environ(), "HOME="+GinkgoT().TempDir())
		out, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred(), "tshark failed: %s", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		recs, err := capture.ReadPcap(bytes.NewReader(pcap.Bytes()))
		Expect(err).NotTo(HaveOccurred())
		Expect(lines).To(HaveLen(len(recs)))
		for i, r := range recs {
			f := r.Frame
			cols := strings.Split(lines[i], "|")
			Expect(cols).To(HaveLen(8), "line %q", lines[i])
			if r.Error {
				Expect(cols[3]).To(Equal("1"), "error flag of packet %d", i+1)
				continue
			}
			Expect(cols[0]).To(Equal(fmt.Sprint(f.ID)), "id of packet %d", i+1)
			Expect(cols[1]).To(Equal(map[bool]string{true: "1", false: "0"}[f.Extended]))
			Expect(cols[4]).To(Equal(fmt.Sprint(f.Len)))
			if f.FD {
				Expect(cols[5]).To(Equal(map[bool]string{true: "1", false: "0"}[f.BRS]))
				Expect(cols[6]).To(Equal(map[bool]string{true: "1", false: "0"}[f.ESI]))
			} else {
				Expect(cols[2]).To(Equal(map[bool]string{true: "1", false: "0"}[f.Remote]))
			}
			if !f.Remote {
				Expect(cols[7]).To(Equal(fmt.Sprintf("%x", f.Payload())), "data of packet %d", i+1)
			}
		}
	})

	It("refuses files of another link type", func() {
		var buf bytes.Buffer
		Expect(capture.TapPcap(vbus.New(vbus.Config{}), &buf)).Error().NotTo(HaveOccurred())
		raw := buf.Bytes()
		raw[20] = 1 // Ethernet
		_, err := capture.ReadPcap(bytes.NewReader(raw))
		Expect(err).To(MatchError(ContainSubstring("not LINKTYPE_CAN_SOCKETCAN")))
	})
})
