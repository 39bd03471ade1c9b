package check_test

import (
	"os"
	"path/filepath"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// checksNamedIn returns the checks whose constant the non-test Go files of
// dir (relative to the module root) name as check.<Constant>.
func checksNamedIn(dir string) map[check.ID]bool {
	GinkgoHelper()
	byConst := map[string]check.ID{}
	for _, ch := range check.All {
		byConst[constName(ch.ID.String())] = ch.ID
	}
	files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty(), "no Go files in %s", dir)
	ref := regexp.MustCompile(`check\.([A-Z][A-Za-z]*)`)
	named := map[check.ID]bool{}
	for _, f := range files {
		if regexp.MustCompile(`_test\.go$`).MatchString(f) {
			continue
		}
		b, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			if id, ok := byConst[m[1]]; ok {
				named[id] = true
			}
		}
	}
	return named
}

var _ = Describe("who performs each check", func() {
	It("names at least one actor for every check of All, and none for anything else", func() {
		for _, ch := range check.All {
			Expect(ch.ID.Performers().List()).NotTo(BeEmpty(), "check %s has no actor in check.PerformedBy", ch.ID)
		}
		for id := range check.PerformedBy {
			Expect(id.Valid()).To(BeTrue(), "check.PerformedBy has an entry for %s, which is no check", id)
		}
		Expect(check.ID(0).Performers().List()).To(BeEmpty())
	})

	It("gives a partial-verification Secondary no check a full-verification one lacks, and the Director's checks to no ECU", func() {
		for _, ch := range check.All {
			p := ch.ID.Performers()
			if p.Has(check.SecondaryPartial) {
				Expect(p.Has(check.SecondaryFull)).To(BeTrue(), "%s", ch.ID)
			}
			if p.Has(check.Director) {
				Expect(p).To(Equal(check.Set(check.Director)), "%s", ch.ID)
			}
		}
		Expect(check.TimestampExpiry.Performers()).To(Equal(check.Set(check.Primary, check.SecondaryFull)))
		Expect(check.VerifyImageReleaseCounter.Performers()).To(Equal(check.Set(check.SecondaryFull, check.SecondaryPartial)))
	})

	It("agrees with the code: a check consulted by the Director, the Primary or a Secondary is theirs", func() {
		for id := range checksNamedIn("uptane/repo") {
			Expect(id.Performers().Has(check.Director)).To(BeTrue(), "uptane/repo consults %s", id)
		}
		for id := range checksNamedIn("ecus/primary") {
			Expect(id.Performers().Has(check.Primary)).To(BeTrue(), "ecus/primary consults %s", id)
		}
		for id := range checksNamedIn("ecus/secondary") {
			p := id.Performers()
			Expect(p.Has(check.SecondaryFull) && p.Has(check.SecondaryPartial)).To(BeTrue(), "ecus/secondary consults %s on every Secondary", id)
		}
	})

	It("says who in words", func() {
		Expect(check.TimestampExpiry.Performers().String()).To(Equal("the Primary and full-verification Secondaries"))
		Expect(check.RootSize.Performers().String()).To(Equal("the Primary, full-verification Secondaries and partial-verification Secondaries"))
		Expect(check.DirectorRepositoryNonceFresh.Performers().String()).To(Equal("the Director"))
		a, ok := check.SecondaryActor("partial")
		Expect(ok).To(BeTrue())
		Expect(a).To(Equal(check.SecondaryPartial))
		_, ok = check.SecondaryActor("primary")
		Expect(ok).To(BeFalse())
	})
})
