package scenarios_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("applicability to a device under test", func() {
	var all []*scenarios.Scenario
	BeforeEach(func() {
		var err error
		all, err = scenarios.LoadAll(".")
		Expect(err).NotTo(HaveOccurred())
	})

	It("gives every scenario a DUT verdict or a reason for each Secondary of the virtual rig", func() {
		r, err := rigs.Load(filepath.Join("..", "rigs", "virtual.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Secondaries()).NotTo(BeEmpty())
		applicable := map[string]int{}
		for _, e := range r.Secondaries() {
			for _, s := range all {
				a, err := s.ForDUT(e.Profile)
				Expect(err).NotTo(HaveOccurred(), "%s on %s", s.Name, e.ID)
				dut, _ := check.SecondaryActor(e.Profile)
				Expect(a.DUT).To(Equal(dut))
				if a.Applicable && a.Finding {
					// out of the model: played as a finding, judged by no check
					Expect(s.OutOfModel).NotTo(BeEmpty(), s.Name)
					Expect(a.Checks).To(BeEmpty())
					continue
				}
				Expect(s.OutOfModel).To(BeEmpty(), "%s is out of the model: a finding", s.Name)
				if a.Applicable {
					applicable[e.Profile]++
					Expect(a.Reason).To(BeEmpty())
					Expect(a.Checks).NotTo(BeEmpty(), "%s on %s", s.Name, e.ID)
					for _, id := range a.Checks {
						Expect(s.Defence).To(ContainElement(id))
						Expect(id.Performers().Has(dut)).To(BeTrue(), "%s: %s is not the %s's", s.Name, id, dut)
					}
					continue
				}
				Expect(a.Checks).To(BeEmpty())
				Expect(a.Reason).To(ContainSubstring(dut.String()), "%s on %s", s.Name, e.ID)
				for _, id := range s.Defence {
					if id.Performers().Has(dut) {
						// the DUT runs the check, but on metadata the attacker signs with keys it trusts
						Expect(dut).To(Equal(check.SecondaryPartial), "%s on %s: %s", s.Name, e.ID, id)
						Expect(a.Reason).To(ContainSubstring("trusts the Director's metadata alone"))
					}
					Expect(a.Reason).To(ContainSubstring(id.String()), "%s on %s: the reason names every check of the defence", s.Name, e.ID)
					Expect(a.Reason).To(ContainSubstring(id.Performers().String()))
				}
			}
		}
		// both kinds of DUT have scenarios to face, and a partial one fewer
		Expect(applicable[rigs.Full]).To(BeNumerically(">", applicable[rigs.Partial]/2))
		Expect(applicable[rigs.Partial]).To(BeNumerically(">", 0))
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

	It("judges a freeze by the DUT's own expiry check only when it verifies the Timestamp", func() {
		s := byName("freeze-director-timestamp")
		full, err := s.ForDUT(rigs.Full)
		Expect(err).NotTo(HaveOccurred())
		Expect(full.Applicable).To(BeTrue())
		Expect(full.Checks).To(Equal([]check.ID{check.TimestampExpiry}))
		partial, err := s.ForDUT(rigs.Partial)
		Expect(err).NotTo(HaveOccurred())
		Expect(partial.Applicable).To(BeFalse())
		Expect(partial.String()).To(Equal("not applicable to a partial-verification Secondary: freeze on the backend link: " +
			"its defence is performed by others than a partial-verification Secondary (check_timestamp.expiry by the Primary and full-verification Secondaries)"))
	})

	It("says a slow retrieval on the backend link and a Director's check are not a DUT's", func() {
		for _, v := range []string{rigs.Full, rigs.Partial} {
			a, err := byName("slow-retrieval-image").ForDUT(v)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Applicable).To(BeFalse())
			Expect(a.Reason).To(HavePrefix("slow-retrieval on the backend link: "))
			Expect(a.Reason).To(ContainSubstring("in_vehicle.download_speed, in_vehicle.request_timeout by the Primary"))
			a, err = byName("bus-spoofed-version-report").ForDUT(v)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Applicable).To(BeFalse())
			Expect(a.Reason).To(ContainSubstring("pouf.report_signature by the Primary; director_repository.report_signature by the Director"))
		}
	})

	It("keeps of a mixed defence the checks the DUT performs", func() {
		a, err := byName("key-compromise-director-snapshot").ForDUT(rigs.Partial)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeTrue())
		Expect(a.Checks).To(Equal([]check.ID{check.TargetsVersion, check.VerifyImageReleaseCounter}))
		Expect(a.String()).To(Equal("applicable to a partial-verification Secondary: its check_targets.version, verify_image.release_counter"))
		a, err = byName("bus-uds-flood").ForDUT(rigs.Partial)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Checks).To(Equal([]check.ID{check.PoufRateLimit}))
	})

	It("does not judge a partial DUT's metadata checks when the attacker signs the Director's Targets, unless the scenario rotates that key", func() {
		a, err := byName("key-compromise-image-targets-threshold").ForDUT(rigs.Partial)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeFalse())
		Expect(a.Reason).To(Equal("arbitrary-software with compromised keys: the attacker holds the Director's online keys (steps[3]), " +
			"and a partial-verification Secondary trusts the Director's metadata alone ({#partial_verification}), so its metadata checks " +
			"cannot stop the attack (defence: check_targets.threshold by the Primary, full-verification Secondaries and partial-verification Secondaries)"))
		a, err = byName("key-compromise-image-targets-threshold").ForDUT(rigs.Full)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Checks).To(Equal([]check.ID{check.TargetsThreshold}))
		// its image checks still stand
		a, err = byName("rollback-image-release-counter").ForDUT(rigs.Partial)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Checks).To(Equal([]check.ID{check.VerifyImageReleaseCounter}))
		// a rotated Director key is revoked: the partial DUT's signature check stops the old key
		a, err = byName("key-compromise-recovery-director").ForDUT(rigs.Partial)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Checks).To(Equal([]check.ID{check.TargetsSignatures}))
	})

	It("is listed in docs/scenarios.md as it is computed (a table row per scenario)", func() {
		b, err := os.ReadFile(filepath.Join("..", "docs", "scenarios.md"))
		Expect(err).NotTo(HaveOccurred())
		_, section, ok := strings.Cut(string(b), "## On a device under test")
		Expect(ok).To(BeTrue(), "docs/scenarios.md has no section \"On a device under test\"")
		cell := func(a scenarios.Applicability) string {
			if a.Finding {
				return "a finding, or resisted (out of the model)"
			}
			if !a.Applicable {
				return "not applicable"
			}
			names := make([]string, len(a.Checks))
			for i, id := range a.Checks {
				names[i] = "`" + id.String() + "`"
			}
			return strings.Join(names, ", ")
		}
		for _, s := range all {
			full, err := s.ForDUT(rigs.Full)
			Expect(err).NotTo(HaveOccurred())
			partial, err := s.ForDUT(rigs.Partial)
			Expect(err).NotTo(HaveOccurred())
			path, err := s.DUTPath()
			Expect(err).NotTo(HaveOccurred())
			row := "| `" + s.Name + "` | " + cell(full) + " | " + cell(partial) + " | " + path + " |\n"
			Expect(section).To(ContainSubstring(row), "docs/scenarios.md: the row of %s", s.Name)
		}
	})

	It("gives every scenario, on a DUT of either kind that keeps its state, a verdict or a precise reason (OnDUT)", func() {
		r, err := rigs.Load(filepath.Join("..", "rigs", "vcan.yaml"))
		Expect(err).NotTo(HaveOccurred())
		seen := map[string]bool{}
		for _, e := range r.Secondaries() {
			for _, s := range all {
				a, err := s.OnDUT(e)
				Expect(err).NotTo(HaveOccurred())
				f, err := s.ForDUT(e.Profile)
				Expect(err).NotTo(HaveOccurred())
				path, err := s.DUTPath()
				Expect(err).NotTo(HaveOccurred())
				switch {
				case !f.Applicable:
					Expect(a).To(Equal(f), "%s on %s: not the DUT's defence", s.Name, e.ID)
				case s.Unsound() != "":
					Expect(a.Applicable).To(BeFalse())
					Expect(a.Reason).To(Equal(s.Name+" "+s.Unsound()), "%s on %s", s.Name, e.ID)
					Expect(path).To(Equal(scenarios.PathNone + ": " + s.Unsound()))
					why := s.Unsound()
					seen[why[:strings.LastIndex(why, " (")]] = true
				case len(s.ECUs) == 1 && s.ECUs[0] == r.Primary().ID:
					Expect(a.Applicable).To(BeFalse())
					Expect(a.Reason).To(ContainSubstring("judges the Primary's own image"))
				case len(s.PowerLoss()) > 0:
					// rigs/vcan.yaml gives no ECU a power: supply
					Expect(e.Power).To(BeNil())
					Expect(a.Applicable).To(BeFalse())
					Expect(a.Reason).To(Equal("the rig gives ECU " + e.ID + " no power: supply"))
					Expect(path).To(Equal(scenarios.PathPower))
				default:
					// played in the place of the Secondary it judges
					Expect(a).To(Equal(f), "%s on %s", s.Name, e.ID)
					Expect(path).To(BeElementOf(scenarios.PathPrimary, scenarios.PathBus))
				}
			}
		}
		Expect(byName("rollback-first-update").Unsound()).To(HavePrefix("needs a factory-fresh ECU"))
		Expect(byName("rollback-first-update-bus").Unsound()).To(HavePrefix("needs a factory-fresh ECU"))
		Expect(byName("key-compromise-director-online-rsa").Unsound()).To(HaveSuffix("(setup.key_types)"))
		Expect(byName("key-compromise-supplier-delegated").Unsound()).To(HaveSuffix("(setup.image)"))
		Expect(byName("freeze-director-timestamp").Unsound()).To(BeEmpty())
		// a factory-fresh ECU, key types, Image roles, a mix and match, a goal on the backend link
		Expect(seen).To(HaveLen(5), "each kind of unsound need is met by some scenario: %v", seen)
	})

	It("refuses a DUT that is no Secondary", func() {
		_, err := byName("bus-uds-flood").ForDUT("primary")
		Expect(err).To(MatchError(ContainSubstring(`verifies full or partial, not "primary"`)))
		_, err = scenarios.ApplicableToDUT("freeze", "bus", []check.ID{check.TimestampExpiry}, check.Director)
		Expect(err).To(MatchError(ContainSubstring("not the Director")))
		a, err := scenarios.ApplicableToDUT("freeze", "bus", nil, check.SecondaryFull)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Applicable).To(BeFalse())
		Expect(strings.HasSuffix(a.Reason, "names no defence")).To(BeTrue())
	})
})
