package progress_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/progress"
	"github.com/uptane-hil/uptane-hil/sim/events"
)

func TestProgress(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "internal/progress")
}

var _ = Describe("progress display", func() {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []events.Event{
		{Time: t0, Kind: events.Phase, ECU: "ECM-0001", Label: "send image"},
		{Time: t0.Add(time.Second), Kind: events.Transfer, ECU: "ECM-0001", Label: "image fw.bin", Done: 512, Total: 1024},
		{Time: t0.Add(2 * time.Second), Kind: events.Transfer, ECU: "ECM-0001", Label: "image fw.bin", Done: 1024, Total: 1024},
		{Time: t0.Add(3 * time.Second), Kind: events.Result, ECU: "ECM-0001", Label: "installed", Err: ""},
	}
	It("writes plain timestamped lines when not on a terminal, skipping partial transfers", func() {
		var b bytes.Buffer
		d := progress.New(&b, false)
		for _, e := range evs {
			d.Sink()(e)
		}
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		Expect(lines).To(HaveLen(3))
		Expect(lines[1]).To(MatchRegexp(`^\[\s+2\.000s\] transfer ECM-0001\s+image fw\.bin 1024 bytes$`))
		Expect(b.String()).NotTo(ContainSubstring("\x1b["))
	})
	It("redraws one line per ECU with a bar and the bus load on a terminal", func() {
		var b bytes.Buffer
		d := progress.New(&b, true)
		d.SetBusLoad("powertrain", 42.5)
		d.Sink()(evs[0])
		d.Sink()(evs[1])
		Expect(b.String()).To(ContainSubstring("[############............]  50%"))
		Expect(b.String()).To(ContainSubstring("bus load: powertrain  42.5%"))
		Expect(b.String()).To(ContainSubstring("\x1b[2A"), "moves the cursor up over the previous frame")
	})
})
