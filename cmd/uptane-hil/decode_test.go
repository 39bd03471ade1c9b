package main

import (
	"bytes"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/capture"
)

var _ = Describe("uptane-hil decode", func() {
	// VehicleSpeed 50.00 km/h (raw 5000 = 0x1388), alive counter 9, CRC 0x85;
	// an ISO-TP frame the DBC does not define.
	frames := []can.Frame{can.New(0x0A0, []byte{0x85, 0x09, 0x88, 0x13, 0, 0, 0, 0}), can.New(0x7E0, []byte{0x02, 0x10, 0x03})}
	want := func(out string) {
		GinkgoHelper()
		Expect(out).To(ContainSubstring("ESC_WheelSpeeds        VehicleSpeed             50 km/h"))
		Expect(out).To(ContainSubstring("ESC_WheelSpeeds_Alive    9"))
		Expect(out).To(ContainSubstring("ESC_WheelSpeeds_CRC      133"))
		Expect(out).To(HavePrefix("1893456000.100000"))
	}
	decode := func(file string) (int, string, string) {
		var out, errb bytes.Buffer
		code := decodeCmd([]string{"--dbc", "../../rigs/dbc/powertrain.dbc", file}, &out, &errb)
		return code, out.String(), errb.String()
	}
	at := time.Unix(1893456000, 100000000)

	It("prints a candump log as decoded signals (time, message, signal, value, unit)", func() {
		var log bytes.Buffer
		for _, f := range frames {
			log.WriteString(capture.FormatCandump(capture.Record{Time: at, Iface: "powertrain", Frame: f}) + "\n")
		}
		p := filepath.Join(GinkgoT().TempDir(), "pt.log")
		Expect(os.WriteFile(p, log.Bytes(), 0o644)).To(Succeed())
		code, out, errs := decode(p)
		Expect(code).To(Equal(0), errs)
		want(out)
		Expect(out).To(ContainSubstring(" powertrain "))
		Expect(errs).To(ContainSubstring("1 frames decoded, 1 of identifiers"))
	})

	It("prints a pcap capture the same way", func() {
		var buf bytes.Buffer
		pw, err := capture.NewPcapWriter(&buf)
		Expect(err).NotTo(HaveOccurred())
		for _, f := range frames {
			Expect(pw.Write(capture.Record{Time: at, Frame: f})).To(Succeed())
		}
		p := filepath.Join(GinkgoT().TempDir(), "pt.pcap")
		Expect(os.WriteFile(p, buf.Bytes(), 0o644)).To(Succeed())
		code, out, errs := decode(p)
		Expect(code).To(Equal(0), errs)
		want(out)
	})

	It("names the DBC's file and line when it is broken", func() {
		p := filepath.Join(GinkgoT().TempDir(), "bad.dbc")
		Expect(os.WriteFile(p, []byte("VERSION \"\"\nBU_: A\nBO_ 1 M 8 A\n"), 0o644)).To(Succeed())
		var out, errb bytes.Buffer
		Expect(decodeCmd([]string{"--dbc", p, "x.log"}, &out, &errb)).To(Equal(1))
		Expect(errb.String()).To(MatchRegexp(`uptane-hil decode: dbc: .*bad\.dbc:3: `))
	})
})
