package scenarios_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("a scenario retargeted onto the device under test", func() {
	var all []*scenarios.Scenario
	BeforeEach(func() {
		var err error
		all, err = scenarios.LoadAll(".")
		Expect(err).NotTo(HaveOccurred())
	})
	byName := func(name string) *scenarios.Scenario {
		GinkgoHelper()
		for _, s := range all {
			if s.Name == name {
				return s
			}
		}
		Fail("no scenario " + name)
		return nil
	}
	load := func(name string) *rigs.Rig {
		GinkgoHelper()
		r, err := rigs.Load(filepath.Join("..", "rigs", name))
		Expect(err).NotTo(HaveOccurred())
		return r
	}
	// withProfile is a copy of r whose ECU id verifies with profile p.
	withProfile := func(r *rigs.Rig, id, p string) *rigs.Rig {
		c := *r
		c.ECUs = append([]rigs.ECU(nil), r.ECUs...)
		c.ECU(id).Profile = p
		return &c
	}

	It("names the reference vehicle's ECUs as rigs/virtual.yaml has them", func() {
		r := load("virtual.yaml")
		for id, e := range scenarios.ReferenceECUs() {
			x := r.ECU(id)
			Expect(x).NotTo(BeNil(), id)
			Expect([]string{x.HardwareID, x.Role, x.Profile}).To(Equal([]string{e.HardwareID, e.Role, e.Profile}), id)
		}
	})

	It("applies to every Secondary of the vcan rig, CAN FD ones too, as ForDUT says for its profile", func() {
		r := load("vcan.yaml")
		count := map[string]int{}
		for _, e := range r.Secondaries() {
			for _, s := range all {
				f, err := s.ForDUT(e.Profile)
				Expect(err).NotTo(HaveOccurred())
				rs, a, err := s.OnRig(r, e)
				Expect(err).NotTo(HaveOccurred())
				o, err := s.OnDUT(e)
				Expect(err).NotTo(HaveOccurred())
				if strings.Contains(a.Reason, "gives that bus no DBC file (restbus:)") {
					// rigs/vcan.yaml has no rest-bus for its signal steps
					Expect(a.Applicable).To(BeFalse(), "%s on %s", s.Name, e.ID)
					continue
				}
				// a scenario that judges only Secondaries of the other
				// profile is not played in their place (OnRig)
				other := len(s.ECUs) > 0 && !slices.Contains(s.ECUs, e.ID)
				for _, id := range s.ECUs {
					if x := r.ECU(id); x != nil && x.Role == rigs.Secondary && x.Profile == e.Profile {
						other = false
					}
				}
				if other && o.Applicable {
					Expect(a.Applicable).To(BeFalse(), "%s on %s", s.Name, e.ID)
					Expect(a.Reason).To(ContainSubstring("none with "+e.Profile+" verification like the DUT; playing it in their place is not modelled"), "%s on %s", s.Name, e.ID)
				} else {
					Expect(a).To(Equal(o), "%s on %s: the vcan rig has every ECU a scenario names", s.Name, e.ID)
				}
				primary := len(s.ECUs) == 1 && s.ECUs[0] == "TCU-0001"
				// rigs/vcan.yaml gives no ECU a power: supply
				Expect(a.Applicable).To(Equal(f.Applicable && s.Unsound() == "" && !primary && len(s.PowerLoss()) == 0 && !other), "%s on %s", s.Name, e.ID)
				if a.Applicable {
					count[e.ID]++
					Expect(rs.ECUs).To(Equal([]string{e.ID}), "%s on %s: the DUT is the judged ECU", s.Name, e.ID)
				}
			}
		}
		Expect(count["ECM-0001"]).To(BeNumerically(">", 0))
		Expect(count["BRK-0001"]).To(BeNumerically(">", 0))
		Expect(count["BCM-0001"]).To(Equal(count["ECM-0001"]), "BCM-0001 verifies fully, like ECM-0001")
		Expect(count["IVI-0001"]).To(Equal(count["BRK-0001"]), "IVI-0001 verifies partially, like BRK-0001")
	})

	It("on a bench whose one ECU no scenario names, applies as ForDUT says for its profile, but where a scenario needs a second ECU", func() {
		for _, p := range []string{rigs.Full, rigs.Partial} {
			r := withProfile(load("bench-example.yaml"), "SUPPLIER-ECU-01", p)
			dut := r.ECU("SUPPLIER-ECU-01")
			n := 0
			for _, s := range all {
				f, err := s.ForDUT(p)
				Expect(err).NotTo(HaveOccurred())
				rs, a, err := s.OnRig(r, dut)
				Expect(err).NotTo(HaveOccurred())
				if !f.Applicable || s.Unsound() != "" {
					Expect(a.Applicable).To(BeFalse(), "%s (%s)", s.Name, p)
					continue
				}
				if len(s.PowerLoss()) > 0 {
					Expect(a.Reason).To(Equal("the rig gives ECU SUPPLIER-ECU-01 no power: supply"), "%s (%s)", s.Name, p)
					continue
				}
				if !a.Applicable {
					// the scenario needs another Secondary beside the one it
					// judges, which a one-ECU bench has not
					Expect(a.Reason).To(Or(MatchRegexp(`^%s: the scenario needs ECU (ECM|BRK|BCM|IVI)-0001, which rig bench-example has not$`, s.Name),
						MatchRegexp(`^%s: the scenario judges .*, none with %s verification like the DUT; playing it in their place is not modelled$`, s.Name, p),
						MatchRegexp(`^%s: the scenario (changes or reads rest-bus signals on|needs) bus \w+, `, s.Name),
						Equal(s.Name+": the scenario judges the Primary's own image (TCU-0001), not a Secondary's")), p)
					Expect(rs).To(BeNil())
					continue
				}
				n++
				Expect(a).To(Equal(f), "%s (%s)", s.Name, p)
				Expect(rs.ECUs).To(Equal([]string{"SUPPLIER-ECU-01"}))
				for _, st := range rs.Steps {
					if st.Attack != nil && st.Attack.Bus != nil {
						Expect(st.Attack.Bus.Target).To(Equal("SUPPLIER-ECU-01"), s.Name)
						Expect(st.Attack.Bus.Bus).To(Equal("bench"), "%s: the attacker node is on the DUT's bus", s.Name)
					}
					if st.Campaign != nil {
						for _, id := range st.Campaign.ECUs {
							Expect(r.ECU(id)).NotTo(BeNil(), s.Name)
						}
					}
				}
			}
			Expect(n).To(BeNumerically(">=", 8), "a %s bench ECU faces most of the suite", p)
		}
	})

	It("takes the place of the judged Secondary of the DUT's profile, and keeps the other simulated under the DUT's old name", func() {
		r := load("vcan.yaml")
		// a scenario that judges ECM-0001 (full) and BRK-0001 (partial)
		file := filepath.Join(GinkgoT().TempDir(), "two.yaml")
		Expect(os.WriteFile(file, []byte(`name: two
description: A two-ECU scenario.
attack: arbitrary-software
standard: [verify_image]
transport: backend-link
ecus: [ECM-0001, BRK-0001]
defence: [verify_image.hashes]
steps:
  - campaign: {release: 2, ecus: [ECM-0001, BRK-0001]}
goal:
  installed: malicious
`), 0o600)).To(Succeed())
		two, err := scenarios.Load(file)
		Expect(err).NotTo(HaveOccurred())
		for dut, campaign := range map[string][]string{"IVI-0001": {"ECM-0001", "IVI-0001"}, "BCM-0001": {"BCM-0001", "BRK-0001"}} {
			out, missing, err := two.InPlaceOf(r, r.ECU(dut))
			Expect(err).NotTo(HaveOccurred())
			Expect(missing).To(BeEmpty())
			Expect(out.ECUs).To(Equal([]string{dut}))
			Expect(out.Steps[0].Campaign.ECUs).To(Equal(campaign), "%s takes the place of the ECU of its profile", dut)
		}
		// incompatible-image-director-breach judges ECM-0001 and names BRK-0001 in its campaign:
		// with BRK-0001 as a full DUT the two change places
		rf := withProfile(r, "BRK-0001", rigs.Full)
		s := byName("incompatible-image-director-breach")
		Expect(s.ECUs).To(Equal([]string{"ECM-0001"}))
		out, missing, err := s.InPlaceOf(rf, rf.ECU("BRK-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(missing).To(BeEmpty())
		Expect(out.ECUs).To(Equal([]string{"BRK-0001"}))
		Expect(out.Steps[0].Campaign.ECUs).To(Equal([]string{"BRK-0001", "ECM-0001"}))
		Expect(out.Steps[2].Publish.ECU).To(Equal("BRK-0001"))
		Expect(out.Steps[2].Publish.Image).To(Equal("target:ecm-v3/firmware-r2.bin"), "the other ECU's image, under its hardware id")
		// a bus scenario's attacker node moves to the DUT's bus (vcan1, "body")
		b := byName("bus-forged-image")
		out, _, err = b.InPlaceOf(r, r.ECU("BCM-0001"))
		Expect(err).NotTo(HaveOccurred())
		Expect(out.Steps[1].Attack.Bus.Target).To(Equal("BCM-0001"))
		Expect(out.Steps[1].Attack.Bus.Bus).To(Equal(r.ECU("BCM-0001").Bus))
		Expect(strings.Contains(b.Steps[1].Attack.Bus.Bus, "powertrain")).To(BeTrue(), "the scenario itself is unchanged")
	})
})

var _ = Describe("the forwarding Primary of DUT runs", func() {
	It("is one profile: every check a Primary performs off but fetching the Image repository and its request timeout", func() {
		f := scenarios.Forwarding()
		Expect(f.Name).To(Equal("forwarding"))
		kept := 0
		for i := range check.All {
			id := check.ID(i + 1)
			if !id.Performers().Has(check.Primary) {
				Expect(f.On(id)).To(BeTrue(), "%s is not the Primary's: the forwarding profile leaves it on", id)
				continue
			}
			switch id {
			case check.FullVerificationImageRepository, check.InVehicleRequestTimeout:
				Expect(f.On(id)).To(BeTrue(), id.String())
				kept++
			default:
				Expect(f.On(id)).To(BeFalse(), "%s: a forwarding Primary hands on what it would refuse", id)
			}
		}
		Expect(kept).To(Equal(2))
	})
})
