package std_test

import (
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/std"
)

var _ = Describe("the Standard's normative statements", func() {
	It("are what the generator extracts from the Standard today (else: go generate ./uptane/std)", func() {
		fresh, err := std.Generate()
		Expect(err).NotTo(HaveOccurred())
		stored, err := os.ReadFile("statements.json")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(stored)).To(Equal(string(fresh)))
	})

	It("are 171 SHALLs and 42 SHOULDs, with the IDs and kinds of the review", func() {
		b, err := os.ReadFile("testdata/review-ids.tsv")
		Expect(err).NotTo(HaveOccurred())
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.HasPrefix(l, "#") {
				want = append(want, l)
			}
		}
		var got []string
		shall, should := 0, 0
		for _, s := range std.Statements() {
			got = append(got, string(s.ID)+"\t"+string(s.Kind))
			if s.Kind.Mandatory() {
				shall++
			} else {
				should++
			}
		}
		Expect(got).To(Equal(want))
		Expect([]int{shall, should}).To(Equal([]int{171, 42}))
	})

	It("quote the Standard: each statement's text is on its lines", func() {
		lines := strings.Split(string(std.Text), "\n")
		for _, s := range std.Statements() {
			Expect(s.Line).To(BeNumerically(">", 0), string(s.ID))
			Expect(s.EndLine).To(BeNumerically(">=", s.Line), string(s.ID))
			span := strings.Join(lines[s.Line-1:s.EndLine], " ")
			for _, w := range strings.Fields(s.Text) {
				Expect(span).To(ContainSubstring(w), "%s: %q is not on %s", s.ID, w, s.Lines())
			}
		}
	})

	It("leave out no keyword of the normative sections: every SHALL, SHOULD and REQUIRED is on a statement's lines or under a rule", func() {
		r, err := std.LoadRules()
		Expect(err).NotTo(HaveOccurred())
		covered := map[int]bool{}
		for _, s := range std.Statements() {
			for n := s.Line; n <= s.EndLine; n++ {
				covered[n] = true
			}
		}
		lines := strings.Split(string(std.Text), "\n")
		start := 0
		for i, l := range lines {
			if strings.HasSuffix(strings.TrimSpace(l), "{#"+r.Start+"}") {
				start = i + 1
			}
			if strings.HasPrefix(l, "<!--") && start > 0 {
				lines = lines[:i]
				break
			}
		}
		Expect(start).To(BeNumerically(">", 0))
		var missed []string
		for i := start; i < len(lines); i++ {
			n := i + 1
			t := strings.ReplaceAll(lines[i], `"SHALL match`, "")
			t = strings.ReplaceAll(t, "SHALL match custom", "")
			if !strings.Contains(t, "SHALL") && !strings.Contains(t, "SHOULD") && !strings.Contains(t, "REQUIRED") {
				continue
			}
			if _, ruled := r.Lines[itoa(n)]; !covered[n] && !ruled {
				missed = append(missed, lines[i])
			}
		}
		Expect(missed).To(BeEmpty())
	})

	It("look up by ID, and sort in the order of the Standard", func() {
		s, ok := std.Lookup("check_root#3")
		Expect(ok).To(BeTrue())
		Expect(s.Kind).To(Equal(std.Shall))
		Expect(s.Text).To(HavePrefix("Version N+1 of the Root metadata file SHALL have been signed"))
		Expect(s.ID.Section()).To(Equal("check_root"))
		Expect(s.ID.Ordinal()).To(Equal(3))
		_, ok = std.Lookup("check_root#99")
		Expect(ok).To(BeFalse())
		ids := []std.ID{"check_root#3", "nope#1", "root_role#1", "check_root#2"}
		std.SortIDs(ids)
		Expect(ids).To(Equal([]std.ID{"root_role#1", "check_root#2", "check_root#3", "nope#1"}))
		Expect(std.Sections()[0]).To(Equal("root_role"))
		Expect(std.Sections()).To(ContainElement("server_requirements"))
	})
})

var _ = Describe("the extraction rules", func() {
	md := []byte("# Intro\n\nIt SHALL be ignored.\n\n## Roles {#roles}\n\nA role SHALL sign. It SHOULD NOT lie.\n\n### Steps {#proc}\n\nTo check, an ECU SHOULD:\n\n1. Load it.\n2. Check it; it SHALL match.\n    1. Sub-step.\n3. Also check \"SHALL match\" custom metadata.\n")
	rules := func(y string) *std.Rules {
		GinkgoHelper()
		r, err := std.ParseRules("rules.yaml", []byte("start: roles\nprocedures: {proc: SHALL*}\n"+y))
		Expect(err).NotTo(HaveOccurred())
		return r
	}
	It("numbers keywords and procedure steps per section, and leaves out quoted terms and what precedes the start", func() {
		st, err := std.Extract(md, rules("lines:\n  \"11\": {action: skip}\n"))
		Expect(err).NotTo(HaveOccurred())
		var got []string
		for _, s := range st {
			got = append(got, string(s.ID)+" "+string(s.Kind)+" "+s.Lines()+" "+s.Text)
		}
		Expect(got).To(Equal([]string{
			"roles#1 SHALL L7 A role SHALL sign.",
			"roles#2 SHOULD NOT L7 It SHOULD NOT lie.",
			"proc#1 SHALL* L13 Load it.",
			"proc#2 SHALL L14 Check it; it SHALL match.",
			"proc#3 SHALL* L15 Sub-step.",
			"proc#4 SHALL* L16 Also check \"SHALL match\" custom metadata.",
		}))
	})
	It("folds, splits and re-kinds lines as the rules say", func() {
		st, err := std.Extract(md, rules("lines:\n  \"11\": {action: skip}\n  \"15\": {action: fold}\n  \"7\": {kinds: [SHALL]}\n  \"14\": {split: [\"it SHALL\"]}\n"))
		Expect(err).NotTo(HaveOccurred())
		var got []string
		for _, s := range st {
			got = append(got, string(s.ID)+" "+string(s.Kind)+" "+s.Lines())
		}
		Expect(got).To(Equal([]string{"roles#1 SHALL L7", "proc#1 SHALL* L13", "proc#2 SHALL* L14", "proc#3 SHALL L14-15", "proc#4 SHALL* L16"}))
	})
	It("fails on a rule that adjusts nothing, a split phrase not found, and malformed rules, naming them", func() {
		_, err := std.Extract(md, rules("lines:\n  \"3\": {action: skip}\n"))
		Expect(err).To(MatchError(ContainSubstring("rules for lines that yield nothing to adjust: 3")))
		_, err = std.Extract(md, rules("lines:\n  \"7\": {split: [\"nowhere\"]}\n"))
		Expect(err).To(MatchError(ContainSubstring("line 7: split")))
		_, err = std.ParseRules("rules.yaml", []byte("lines:\n  \"7\": {action: drop}\n"))
		Expect(err).To(MatchError(ContainSubstring("lines.7.action")))
		_, err = std.ParseRules("rules.yaml", []byte("lines:\n  \"7\": {kinds: [MAY]}\n"))
		Expect(err).To(MatchError(ContainSubstring("unknown kind")))
		_, err = std.ParseRules("rules.yaml", []byte("procedures: {x: SHALL}\nlines:\n  \"7\": {action: skip, kinds: [SHALL]}\n"))
		Expect(err).To(MatchError(ContainSubstring("give one of")))
	})
})

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
