package reports_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/reports"
)

// standardMD is the Uptane Standard 2.1.0's markdown (a copy of
// /work/shared/ref/uptane-standard.md, with its license and source).
func standardMD() []byte {
	GinkgoHelper()
	b, err := os.ReadFile("testdata/uptane-standard.md")
	Expect(err).NotTo(HaveOccurred())
	return b
}

func jsonOf(r *reports.Report) []byte {
	GinkgoHelper()
	var buf bytes.Buffer
	Expect(reports.WriteJSON(&buf, r)).To(Succeed())
	return buf.Bytes()
}

// jsonPaths lists the field paths of a JSON document: "a.b", arrays as
// "a[]". Raw documents (version reports, Director records) are not entered.
func jsonPaths(doc []byte) map[string]bool {
	GinkgoHelper()
	var v any
	Expect(json.Unmarshal(doc, &v)).To(Succeed())
	out := map[string]bool{}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				q := k
				if p != "" {
					q = p + "." + k
				}
				out[q] = true
				if k == "versionReport" || k == "directorRecord" {
					continue
				}
				walk(q, e)
			}
		case []any:
			for _, e := range x {
				walk(p+"[]", e)
			}
		}
	}
	walk("", v)
	return out
}

var docRow = regexp.MustCompile("(?m)^\\| `([^`]+)` \\| [^|]+ \\| (yes|no) \\|")

// documentedFields reads the field table of docs/report-schema.md: path →
// required.
func documentedFields() map[string]bool {
	GinkgoHelper()
	b, err := os.ReadFile("../docs/report-schema.md")
	Expect(err).NotTo(HaveOccurred())
	out := map[string]bool{}
	for _, m := range docRow.FindAllSubmatch(b, -1) {
		out[string(m[1])] = string(m[2]) == "yes"
	}
	Expect(len(out)).To(BeNumerically(">", 40), "the field table was found")
	return out
}

func readDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out, err
}
