package check_test

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// constName is the Go name a check's constant must have: its name without
// the "check_" prefix, in CamelCase, with Go's initialisms.
func constName(name string) string {
	name = strings.TrimPrefix(name, "check_")
	var b strings.Builder
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '.' }) {
		switch w {
		case "id":
			b.WriteString("ID")
		case "ecus":
			b.WriteString("ECUs")
		default:
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// declaredIDs returns the names of the ID constants declared in check.go, in
// the order of their declaration.
func declaredIDs() []string {
	GinkgoHelper()
	f, err := parser.ParseFile(token.NewFileSet(), "check.go", nil, 0)
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		typed := false
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); ok {
				typed = id.Name == "ID"
			}
			if !typed {
				break
			}
			for _, n := range vs.Names {
				if n.Name != "_" {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

var _ = Describe("check IDs", func() {
	It("has one constant per check of All, in All's order, named after the check", func() {
		consts := declaredIDs()
		Expect(consts).To(HaveLen(len(check.All)))
		for i, ch := range check.All {
			Expect(ch.ID).To(Equal(check.ID(i+1)), "All[%d] (%s)", i, ch.ID)
			Expect(consts[i]).To(Equal(constName(ch.ID.String())), "the constant of %s", ch.ID)
			Expect(ch.ID.String()).To(Equal(ch.Section + "." + strings.SplitN(ch.ID.String(), ".", 2)[1]))
		}
	})

	It("turns a name into its ID and back, and refuses an unknown name with a clear error", func() {
		for _, ch := range check.All {
			id, err := check.ParseID(ch.ID.String())
			Expect(err).NotTo(HaveOccurred())
			Expect(id).To(Equal(ch.ID))
		}
		_, err := check.ParseID("check_timestamp.expiri")
		var ue *check.UnknownError
		Expect(errors.As(err, &ue)).To(BeTrue())
		Expect(err).To(MatchError(ContainSubstring(`unknown check "check_timestamp.expiri"`)))
		_, err = check.ParseID("")
		Expect(err).To(HaveOccurred())
	})

	It("reads and writes the name in JSON, the zero ID as empty, and refuses an unknown name", func() {
		type rec struct {
			Check check.ID `json:"check"`
		}
		b, err := json.Marshal(rec{check.PoufReportNonce})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(`{"check":"pouf.report_nonce"}`))
		var r rec
		Expect(json.Unmarshal([]byte(`{"check":"verify_image.hashes"}`), &r)).To(Succeed())
		Expect(r.Check).To(Equal(check.VerifyImageHashes))
		Expect(json.Unmarshal([]byte(`{"check":""}`), &r)).To(Succeed())
		Expect(r.Check).To(BeZero())
		Expect(json.Unmarshal([]byte(`{"check":"verify_image.hashs"}`), &r)).To(MatchError(ContainSubstring("unknown check")))
		_, err = json.Marshal(rec{check.ID(len(check.All) + 1)})
		Expect(err).To(HaveOccurred())
	})

	It("knows no check for the zero ID or one past All", func() {
		_, ok := check.Lookup(0)
		Expect(ok).To(BeFalse())
		_, ok = check.Lookup(check.ID(len(check.All) + 1))
		Expect(ok).To(BeFalse())
		ch, ok := check.Lookup(check.TimestampExpiry)
		Expect(ok).To(BeTrue())
		Expect(ch.Attack).To(Equal(check.Freeze))
		Expect(ch.Step).To(Equal("4"))
	})
})

var _ = Describe("Profile", func() {
	It("names a control profile after its missing checks, sorted by name", func() {
		p := check.Without(check.TargetsThreshold, check.TargetsSignatures)
		Expect(p.Name).To(Equal("without:check_targets.signatures+check_targets.threshold"))
		Expect(p.On(check.TargetsSignatures)).To(BeFalse())
		Expect(p.On(check.TargetsThreshold)).To(BeFalse())
		Expect(p.On(check.TargetsExpiry)).To(BeTrue())
	})

	It("has every check on in the conformant profile", func() {
		for _, ch := range check.All {
			Expect(check.Conformant.On(ch.ID)).To(BeTrue(), "%s", ch.ID)
		}
	})

	It("panics on a profile without a check that does not exist (a programming error)", func() {
		Expect(func() { check.Without(check.ID(len(check.All) + 1)) }).To(Panic())
	})
})

var _ = Describe("Error", func() {
	It("names the check, its attack, where and what", func() {
		err := check.Fail(check.TimestampExpiry, "director", "timestamp", "expired %s", "yesterday").OnECU("ECM-0001")
		Expect(err.Error()).To(Equal("check_timestamp.expiry (freeze) director/timestamp on ECM-0001: expired yesterday"))
		wrapped := errors.Join(errors.New("cycle"), err)
		Expect(check.Is(wrapped, check.TimestampExpiry)).To(BeTrue())
		Expect(check.Is(wrapped, check.TimestampVersion)).To(BeFalse())
		ce, ok := check.As(wrapped)
		Expect(ok).To(BeTrue())
		Expect(ce.Attack).To(Equal(check.Freeze))
	})
})
