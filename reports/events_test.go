package reports_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/sim/events"
)

var _ = Describe("SequenceFromEvents", func() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }

	It("turns the run's event stream into sequence entries", func() {
		evs := []events.Event{
			{Time: start.Add(-time.Second), Kind: events.Note, Label: "campaign"},
			{Time: at(1), Kind: events.Attack, From: events.Attacker, Label: "attack on: freeze"},
			{Time: at(2), Kind: events.Phase, From: "TCU-0001", Label: "download and verify metadata"},
			{Time: at(3), Kind: events.HTTP, From: "TCU-0001", To: events.Director, Label: "GET timestamp.json", Err: "check_timestamp.expiry (freeze)"},
			{Time: at(4), Kind: events.Phase, From: "TCU-0001", To: "ECM-0001", ECU: "ECM-0001", Label: "send metadata"},
			{Time: at(5), Kind: events.UDS, From: "TCU-0001", To: "ECM-0001", ECU: "ECM-0001", Label: "write nonce"},
			{Time: at(6), Kind: events.Transfer, ECU: "ECM-0001", Label: "image", Done: 10, Total: 100},
			{Time: at(7), Kind: events.Result, ECU: "ECM-0001", Label: "failed", Err: "check_timestamp.expiry"},
			{Time: at(8), Kind: events.UDS, From: "TCU-0001", Label: "half an exchange"},
		}
		seq := reports.SequenceFromEvents(start, evs)
		Expect(seq).To(Equal([]reports.Message{
			{T: 0, Label: "campaign", Kind: reports.KindNote},
			{T: 1, From: reports.Attacker, Label: "attack on: freeze", Kind: reports.KindAttack},
			{T: 2, From: "TCU-0001", Label: "download and verify metadata", Kind: reports.KindNote},
			{T: 3, From: "TCU-0001", To: reports.Director, Label: "GET timestamp.json", Kind: reports.KindHTTP, Fault: "check_timestamp.expiry (freeze)"},
			{T: 4, From: "TCU-0001", Label: "send metadata (ECM-0001)", Kind: reports.KindNote},
			{T: 5, From: "TCU-0001", To: "ECM-0001", Label: "write nonce", Kind: reports.KindUDS},
			{T: 7, From: "ECM-0001", Label: "ECM-0001: failed", Kind: reports.KindNote, Fault: "check_timestamp.expiry"},
			{T: 8, From: "TCU-0001", Label: "half an exchange", Kind: reports.KindNote},
		}))
		r := minimal()
		r.Results[0].Sequence = seq
		Expect(r.Validate()).To(Succeed())
	})

	It("converts a load series to percent, clamped", func() {
		got := reports.LoadFrom(start, []time.Time{at(0), at(10), at(20)}, []float64{0.25, 1.2, -0.1})
		Expect(got).To(Equal([]reports.LoadSample{{T: 0, LoadPct: 25}, {T: 10, LoadPct: 100}, {T: 20, LoadPct: 0}}))
	})
})
