package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

// loadTotals sums a bus's timeline by kind of traffic (percent × window).
func loadTotals(bl reports.BusLoad) (restbusPct, update, attacker, other float64, n int) {
	for _, s := range bl.Samples {
		restbusPct += s.RestbusPct
		update += s.UpdatePct
		attacker += s.AttackerPct
		other += s.OtherPct
		Expect(s.RestbusPct + s.UpdatePct + s.AttackerPct + s.OtherPct).To(BeNumerically("~", s.LoadPct, 0.05))
	}
	return restbusPct, update, attacker, other, len(bl.Samples)
}

var _ = Describe("the bus-load timeline of a run, by kind of traffic", func() {
	var r *rigs.Rig
	BeforeEach(func() {
		var err error
		r, err = rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
	})
	play := func(name string) []scenarios.Result {
		GinkgoHelper()
		s, err := scenarios.Load(name)
		Expect(err).NotTo(HaveOccurred())
		res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir(), ConformantOnly: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).NotTo(BeEmpty())
		return res
	}

	It("splits each bus into the rest-bus (its DBC's identifiers) and the update (the rig's ISO-TP identifiers); the rest-bus's share is the load the DBC gives", func() {
		res := play("partial-bundle.yaml")
		Expect(res[0].BusLoad).To(HaveLen(2))
		for _, bl := range res[0].BusLoad {
			rb, upd, att, other, n := loadTotals(bl)
			Expect(n).To(BeNumerically(">", 10))
			Expect(upd).To(BeNumerically(">", 0), "bus %s carries the update", bl.Bus)
			Expect(att).To(BeZero(), "no attacker on bus %s", bl.Bus)
			Expect(other).To(BeZero(), "every frame on bus %s is classified", bl.Bus)
			// the rest-bus's share in the windows where the update is off
			// the bus (and the network awake) is what its DBC computes
			cfg, ok := r.Bus(bl.Bus).RestbusConfig()
			Expect(ok).To(BeTrue())
			rs, err := restbus.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			want := rs.Load(r.Bus(bl.Bus).Bitrate, r.Bus(bl.Bus).DataBitrate) * 100
			// over the run, from its first rest-bus frame (the update
			// delays rest-bus frames, it does not take their place)
			first := -1
			for i, s := range bl.Samples {
				if s.RestbusPct > 0 && first < 0 {
					first = i
				}
			}
			Expect(first).To(BeNumerically(">=", 0))
			win := bl.Samples[first : len(bl.Samples)-1] // the last window is cut short by the end of the run
			Expect(len(win)).To(BeNumerically(">", 10))
			mean := 0.0
			for _, s := range win {
				mean += s.RestbusPct
			}
			mean /= float64(len(win))
			Expect(mean).To(BeNumerically("~", want, want*0.1), "bus %s: rest-bus %.2f%% over the run, the DBC gives %.2f%% (of %.2f%% in all)", bl.Bus, mean, want, rb/float64(n))
		}
	})

	It("counts an attacker's frames as attacker traffic, whatever identifier they use", func() {
		res := play("bus-uds-flood.yaml")
		var pt *reports.BusLoad
		for i := range res[0].BusLoad {
			if res[0].BusLoad[i].Bus == "powertrain" {
				pt = &res[0].BusLoad[i]
			}
		}
		Expect(pt).NotTo(BeNil())
		_, upd, att, other, _ := loadTotals(*pt)
		Expect(att).To(BeNumerically(">", 0), "the flood is attacker traffic")
		Expect(upd).To(BeNumerically(">", 0))
		Expect(other).To(BeZero())
	})
})
