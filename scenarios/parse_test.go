package scenarios_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
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
		Expect(p.On(check.TimestampExpiry)).To(BeFalse())
		Expect(p.On(check.SnapshotExpiry)).To(BeTrue())
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
		Entry("a compatibility that declares nothing", func(s string) string {
			return strings.Replace(s, "steps:\n", "setup:\n  compatibility:\n    - {hardware: ecm-v3, release: 2}\nsteps:\n", 1)
		}, `:10:\d+: setup\.compatibility\[0\]: declares neither requires nor conflicts`),
		Entry("a requirement without a release", func(s string) string {
			return strings.Replace(s, "steps:\n", "setup:\n  compatibility:\n    - {hardware: ecm-v3, release: 2, requires: [{hardware: brk-v2}]}\nsteps:\n", 1)
		}, `setup\.compatibility\[0\]\.requires\[0\]: needs a hardware and a min_release`),
		Entry("no goal", func(s string) string { return strings.Split(s, "goal:")[0] }, `goal: missing`),
		Entry("no defence", func(s string) string { return strings.Replace(s, "defence: [check_timestamp.expiry]\n", "", 1) },
			`defence: missing: the checks the control profile lacks`),
		Entry("negative duration", func(s string) string { return strings.Replace(s, "advance: 48h", "advance: -1h", 1) },
			`steps\[2\]\.advance: time travels forward only`),
		Entry("bad goal image", func(s string) string { return strings.Replace(s, "installed: release:2", "installed: v2", 1) },
			`goal\.installed: "v2" is not malicious or release:N`),
		Entry("unknown repository key type", func(s string) string {
			return strings.Replace(s, "steps:", "setup:\n  key_types: {director: rsa-1024}\nsteps:", 1)
		}, `:\d+:\d+: setup\.key_types\.director: "rsa-1024" is not one of ed25519, ecdsa, .*rsa-4096$`),
		Entry("unknown ECU key type", func(s string) string {
			return strings.Replace(s, "steps:", "setup:\n  key_types: {ecus: {ECM-0001: dsa}}\nsteps:", 1)
		}, `setup\.key_types\.ecus\.ECM-0001: "dsa" is not one of`),
	)

	It("refuses a folder of scenarios that holds none, naming it", func() {
		empty := GinkgoT().TempDir()
		_, err := scenarios.LoadAll(".", empty)
		Expect(err).To(MatchError(ContainSubstring("folder " + empty + " holds no scenario file (*.yaml)")))
	})

	It("runs with the key types of its setup and says which ECU of the rig is missing", func() {
		src := strings.Replace(freeze, "steps:", "setup:\n  key_types: {director: rsa, image: ecdsa-sha2-nistp384, ecus: {ECM-0001: rsa, NOPE-1: rsa}}\nsteps:", 1)
		s, err := scenarios.Parse("scenarios/keys.yaml", []byte(src))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Setup.KeyTypes).To(Equal(scenarios.KeyTypesSetup{Director: "rsa", Image: "ecdsa-sha2-nistp384",
			ECUs: map[string]string{"ECM-0001": "rsa", "NOPE-1": "rsa"}}))
		r, err := rigs.Load("../rigs/virtual.yaml")
		Expect(err).NotTo(HaveOccurred())
		_, err = s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir(), ConformantOnly: true})
		Expect(err).To(MatchError(MatchRegexp(`setup\.key_types\.ecus\.NOPE-1: rig virtual has no ECU "NOPE-1"`)))
		Expect(r.Backend.KeyTypes.Director).To(BeEmpty(), "the caller's rig stays as loaded")
	})

	DescribeTable("names the field of a broken bus attack",
		func(bus, goal, want string) {
			src := strings.Replace(freeze, "      mitm: {repo: director, file: 'timestamp\\.json$', action: replay, index: 0}", "      bus: "+bus, 1)
			src = strings.Replace(src, "  installed: release:2\n  undetected: true\n", goal, 1)
			_, err := scenarios.Parse("scenarios/broken.yaml", []byte(src))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("unknown action", "{bus: powertrain, action: jam, target: BRK-0001}", "  installed: malicious\n",
			`:12:\d+: steps\[1\]\.attack\.bus\.action: "jam" is not one of forge-metadata, forge-image, trickle-image, spoof-report, record-report, replay-report, replay-session, flood, write-time, replay-old-metadata`),
		Entry("no bus", "{action: forge-image, target: BRK-0001}", "  installed: malicious\n",
			`steps\[1\]\.attack\.bus\.bus: missing: the rig's bus`),
		Entry("no target", "{bus: powertrain, action: spoof-report}", "  director_accepts: spoofed\n",
			`steps\[1\]\.attack\.bus\.target: missing: the Secondary attacked`),
		Entry("a flood without a rate", "{bus: powertrain, action: flood, target: BRK-0001}", "  starved: true\n",
			`steps\[1\]\.attack\.bus\.rate: 0: a flood needs a rate of 1\.\.10000 requests per second`),
		Entry("a rate on another action", "{bus: powertrain, action: replay-session, target: BRK-0001, rate: 5}", "  installed: release:2\n",
			`steps\[1\]\.attack\.bus\.rate: only a flood has a rate`),
		Entry("a flood that lasts less than nothing", "{bus: powertrain, action: flood, target: BRK-0001, rate: 100, for: -1s}", "  starved: true\n",
			`steps\[1\]\.attack\.bus\.for: -1s: a flood's duration is positive`),
		Entry("a duration on another action", "{bus: powertrain, action: replay-session, target: BRK-0001, for: 5s}", "  installed: release:2\n",
			`steps\[1\]\.attack\.bus\.for: only a flood has a duration`),
		Entry("a trickle without a chunk", "{bus: powertrain, action: trickle-image, target: BRK-0001, interval: 4s}", "  slower_than: 1h\n",
			`steps\[1\]\.attack\.bus\.chunk: a trickle needs a chunk of 1\.\.4093 bytes and a positive interval`),
		Entry("a chunk on another action", "{bus: powertrain, action: forge-image, target: BRK-0001, chunk: 8}", "  installed: malicious\n",
			`steps\[1\]\.attack\.bus\.chunk: only a trickle has a chunk and an interval`),
		Entry("starved without a flood", "{bus: powertrain, action: forge-image, target: BRK-0001}", "  starved: true\n",
			`goal\.starved: only a bus flood attack`),
		Entry("an unknown director_accepts", "{bus: powertrain, action: spoof-report, target: BRK-0001}", "  director_accepts: fooled\n",
			`goal\.director_accepts: "fooled" is not replayed, forged or spoofed`),
	)

	It("parses every bus attack action", func() {
		for _, a := range []string{"forge-metadata", "forge-image", "spoof-report", "replay-session"} {
			src := strings.Replace(freeze, "      mitm: {repo: director, file: 'timestamp\\.json$', action: replay, index: 0}", "      bus: {bus: powertrain, action: "+a+", target: BRK-0001}", 1)
			s, err := scenarios.Parse("s.yaml", []byte(src))
			Expect(err).NotTo(HaveOccurred(), a)
			Expect(s.Steps[1].Attack.Bus.Action).To(Equal(a))
		}
	})

	It("parses a campaign the Director assigns without an update cycle", func() {
		s, err := scenarios.Parse("s.yaml", []byte(strings.Replace(freeze, "campaign: {release: 2}", "campaign: {release: 2, assign_only: true}", 1)))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Steps[0].Campaign.AssignOnly).To(BeTrue())
		Expect(s.Steps[3].Campaign.AssignOnly).To(BeFalse())
	})

	It("refuses attack_off for an attack that was never switched on", func() {
		_, err := scenarios.Parse("s.yaml", []byte(strings.Replace(freeze, "  - advance: 48h", "  - attack_off: thaw", 1)))
		Expect(err).To(MatchError(ContainSubstring(`steps[2].attack_off: no attack named "thaw"`)))
	})
})

const supplier = `name: key-compromise-supplier-delegated
description: The attacker signs, with a supplier's key, an image for another supplier's hardware.
attack: arbitrary-software
standard: [resolve_delegations]
transport: keys
ecus: [ECM-0001]
defence: [resolve_delegations.scope]
setup:
  image:
    roles:
      targets: {keys: 3, threshold: 2}
    delegations:
      - {name: brakes-supplier, paths: ['brk-v2/*'], hardware_ids: [brk-v2], keys: 2}
steps:
  - attack:
      name: supplier-key
      compromise: {repo: image, role: brakes-supplier, key: 1}
  - publish: {repo: image, role: brakes-supplier, image: malicious, ecu: ECM-0001, name: ecm-v3/firmware-r3.bin, release: 3}
  - publish: {repo: director, image: 'target:ecm-v3/firmware-r3.bin', ecu: ECM-0001}
  - publish: {repo: director, rollback_targets: true}
  - attack:
      name: tap
      eavesdrop: {bus: body}
  - cycle: {}
goal:
  installed: malicious
  leaked_over: 1024
`

var _ = Describe("scenario files for key compromise and eavesdropping", func() {
	It("parses the Image repository setup, image publishing and the eavesdropper", func() {
		s, err := scenarios.Parse("s.yaml", []byte(supplier))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Setup.Image.Roles).To(HaveKeyWithValue("targets", scenarios.RoleKeys{Keys: 3, Threshold: 2}))
		Expect(s.Setup.Image.Delegations).To(Equal([]scenarios.DelegationSetup{{Name: "brakes-supplier",
			Paths: []string{"brk-v2/*"}, HardwareIDs: []string{"brk-v2"}, Keys: 2}}))
		Expect(*s.Steps[1].Publish).To(Equal(scenarios.Publish{Repo: "image", Role: "brakes-supplier", Image: "malicious",
			ECU: "ECM-0001", Name: "ecm-v3/firmware-r3.bin", Release: 3}))
		Expect(s.Steps[3].Publish.RollbackTargets).To(BeTrue())
		Expect(s.Steps[4].Attack.Eavesdrop.Bus).To(Equal("body"))
		Expect(s.Goal.LeakedOver).To(Equal(1024))
	})

	DescribeTable("names the field of a broken setup, publish or eavesdrop",
		func(edit func(string) string, want string) {
			_, err := scenarios.Parse("scenarios/broken.yaml", []byte(edit(supplier)))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(want))
		},
		Entry("a role that is not top-level", func(s string) string { return strings.Replace(s, "targets: {keys: 3", "brakes: {keys: 3", 1) },
			`^scenarios/broken\.yaml:11:\d+: setup\.image\.roles\.brakes: "brakes" is not a top-level role`),
		Entry("a threshold above the keys", func(s string) string { return strings.Replace(s, "keys: 3, threshold: 2", "keys: 1, threshold: 2", 1) },
			`:11:\d+: setup\.image\.roles\.targets\.threshold: 2 is more than the 1 keys`),
		Entry("a delegation without paths", func(s string) string { return strings.Replace(s, "paths: ['brk-v2/*'], ", "", 1) },
			`:13:\d+: setup\.image\.delegations\[0\]\.paths: missing`),
		Entry("a delegation to a top-level role", func(s string) string { return strings.Replace(s, "name: brakes-supplier,", "name: snapshot,", 1) },
			`setup\.image\.delegations\[0\]\.name: "snapshot": name the supplier role`),
		Entry("an unknown setup field", func(s string) string { return strings.Replace(s, "    roles:", "    rolls:", 1) },
			`:10:\d+: setup\.image\.rolls: unknown field \(known: roles, delegations\)`),
		Entry("an image publish without a name", func(s string) string { return strings.Replace(s, ", name: ecm-v3/firmware-r3.bin, release: 3", "", 1) },
			`steps\[1\]\.publish\.name: the target name of the malicious image`),
		Entry("a target name that traverses paths", func(s string) string { return strings.Replace(s, "name: ecm-v3/firmware-r3.bin", "name: ../fw.bin", 1) },
			`steps\[1\]\.publish\.name:`),
		Entry("a rollback on the image repository", func(s string) string {
			return strings.Replace(s, "publish: {repo: director, rollback_targets", "publish: {repo: image, rollback_targets", 1)
		},
			`steps\[3\]\.publish: rollback and rollback_targets are for the director repository`),
		Entry("two director publications in one step", func(s string) string {
			return strings.Replace(s, "rollback_targets: true}", "rollback_targets: true, rollback: true}", 1)
		},
			`steps\[3\]\.publish: give exactly one of`),
		Entry("an eavesdropper without a bus", func(s string) string { return strings.Replace(s, "eavesdrop: {bus: body}", "eavesdrop: {}", 1) },
			`steps\[4\]\.attack\.eavesdrop\.bus: missing`),
		Entry("leaked_over without an eavesdropper", func(s string) string {
			return strings.Replace(s, "  - attack:\n      name: tap\n      eavesdrop: {bus: body}\n", "", 1)
		},
			`goal\.leaked_over: no step switches an eavesdropper on`),
	)
})
