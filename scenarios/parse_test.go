package scenarios_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

const freeze = `name: freeze-director-timestamp
description: The attacker replays the Director's old timestamp after it expired.
attack: freeze
standard: [check_timestamp, full_verification]
transport: backend-link
ecus: [ECM-0001]
defence: [check_timestamp.expiry]
steps:
  - campaign: {release: 2}
  - attack:
      name: freeze
      mitm: {repo: director, file: 'timestamp\.json$', action: replay, index: 0}
  - advance: 48h
  - campaign: {release: 3}
goal:
  installed: release:2
  undetected: true
`

var _ = Describe("scenario files", func() {
	It("parses a scenario and derives its control profile", func() {
		s, err := scenarios.Parse("scenarios/freeze.yaml", []byte(freeze))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Steps).To(HaveLen(4))
		Expect(s.Steps[1].Attack.MITM.Action).To(Equal("replay"))
		Expect(s.Steps[2].Advance.Hours()).To(Equal(48.0))
		p := s.Profile()
		Expect(p.On("check_timestamp.expiry")).To(BeFalse())
		Expect(p.On("check_snapshot.expiry")).To(BeTrue())
		Expect(p.Name).To(Equal("without:check_timestamp.expiry"))
		Expect(s.Setup.Release).To(Equal(uint64(1)))
		var _ check.Profile = p
	})

	DescribeTable("names file, line and field of a broken scenario",
		func(edit func(string) string, want string) {
			_, err := scenarios.Parse("scenarios/broken.yaml", []byte(edit(freeze)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("unknown check in the defence", func(s string) string {
			return strings.Replace(s, "check_timestamp.expiry", "check_timestamp.expiri", 1)
		},
			`^scenarios/broken\.yaml:7:\d+: defence\[0\]: unknown check "check_timestamp.expiri"`),
		Entry("unknown attack", func(s string) string { return strings.Replace(s, "attack: freeze", "attack: thaw", 1) },
			`^scenarios/broken\.yaml:3:9: attack: "thaw" is not an attack of the threat model`),
		Entry("a step with two actions", func(s string) string {
			return strings.Replace(s, "  - advance: 48h", "  - advance: 48h\n    cycle: {}", 1)
		},
			`steps\[2\]: a step is exactly one of`),
		Entry("bad mitm action", func(s string) string { return strings.Replace(s, "action: replay", "action: replays", 1) },
			`:12:\d+: steps\[1\]\.attack\.mitm\.action: "replays" is not one of`),
		Entry("no goal", func(s string) string { return strings.Split(s, "goal:")[0] }, `goal: missing`),
		Entry("no defence", func(s string) string { return strings.Replace(s, "defence: [check_timestamp.expiry]\n", "", 1) },
			`defence: missing: the checks the control profile lacks`),
		Entry("negative duration", func(s string) string { return strings.Replace(s, "advance: 48h", "advance: -1h", 1) },
			`steps\[2\]\.advance: time travels forward only`),
		Entry("bad goal image", func(s string) string { return strings.Replace(s, "installed: release:2", "installed: v2", 1) },
			`goal\.installed: "v2" is not malicious or release:N`),
	)

	It("refuses attack_off for an attack that was never switched on", func() {
		_, err := scenarios.Parse("s.yaml", []byte(strings.Replace(freeze, "  - advance: 48h", "  - attack_off: thaw", 1)))
		Expect(err).To(MatchError(ContainSubstring(`steps[2].attack_off: no attack named "thaw"`)))
	})
})
