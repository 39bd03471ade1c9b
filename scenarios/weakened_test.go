package scenarios_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/scenarios"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// The suite can fail: take the conformant profile, delete one defence a
// scenario relies on, and at least one scenario must then fail. The suite
// is played as a whole against the weakened profile, until its first
// failure; the scenarios that name the deleted defence go first (the
// likeliest to notice), so a spec costs a run or two, not the whole suite.
var _ = Describe("the suite notices a missing defence", Label("attack"), func() {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("the suite is built from scenarios/*.yaml, which matched no file (%v)", err))
	}
	var list []*scenarios.Scenario
	defences := map[string][]check.ID{}
	for _, f := range files {
		s, err := scenarios.Load(f)
		if err != nil {
			panic(err)
		}
		if s.OutOfModel != "" {
			continue // no defence to delete
		}
		list = append(list, s)
		ids := defenceIDs(s)
		defences[check.Without(ids...).Name] = ids
	}
	names := make([]string, 0, len(defences))
	for d := range defences {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, name := range names {
		ids := defences[name]
		It("fails a scenario when the conformant profile lacks "+strings.TrimPrefix(name, "without:"), func() {
			r, err := rigs.Load("../rigs/virtual.yaml")
			Expect(err).NotTo(HaveOccurred())
			weak := check.Without(ids...)
			order := append([]*scenarios.Scenario(nil), list...)
			sort.SliceStable(order, func(i, j int) bool {
				return check.Without(defenceIDs(order[i])...).Name == name && check.Without(defenceIDs(order[j])...).Name != name
			})
			failed := []string{}
			for _, s := range order {
				res, err := s.Run(scenarios.RunOptions{Rig: r, Dir: GinkgoT().TempDir(), Base: &weak, ConformantOnly: true})
				Expect(err).NotTo(HaveOccurred())
				for _, x := range res {
					if !x.Pass {
						failed = append(failed, x.Scenario+"/"+x.ECU)
					}
				}
				if len(failed) > 0 {
					break
				}
			}
			Expect(failed).NotTo(BeEmpty(), "no scenario failed although %v was switched off", ids)
		})
	}
})

func defenceIDs(s *scenarios.Scenario) []check.ID {
	return s.Defence
}
