package layers_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/layers"
)

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// moduleGraph is every package of the module and what it imports (not its
// tests: a spec may reach up to build its fixture).
func moduleGraph() map[string][]string {
	GinkgoHelper()
	cmd := exec.Command(goTool(), "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, layers.Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "go list: %s", stderr.String())
	g := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			g[f[0]] = f[1:]
		}
	}
	Expect(len(g)).To(BeNumerically(">", 30), "go list found the module's packages")
	return g
}

func pkg(p string) string { return layers.Module + "/" + p }

var _ = Describe("the direction of imports", func() {
	It("holds for every package of the module: none imports a layer above its own, every one is in a layer", func() {
		Expect(layers.Violations(moduleGraph())).To(BeEmpty())
	})

	It("fails on a backward import, naming both packages and their layers", func() {
		v := layers.Violations(map[string][]string{pkg("ecus/vehicle"): {pkg("attacks/mitm"), "net/http"}})
		Expect(v).To(ConsistOf(ContainSubstring("ecus/vehicle (ecus) imports attacks/mitm (attacks, a layer above)")))
	})

	It("orders packages inside a layer: the link to a Secondary does not import an implementation of one", func() {
		v := layers.Violations(map[string][]string{pkg("ecus/link"): {pkg("ecus/secondary"), pkg("ecus/pouf")}})
		Expect(v).To(ConsistOf(ContainSubstring("ecus/link (ecus) imports ecus/secondary")))
	})

	It("keeps the generic UDS server free of Uptane", func() {
		v := layers.Violations(map[string][]string{pkg("ecus/uds"): {pkg("uptane/check"), pkg("sim/isotp")}})
		Expect(v).To(ConsistOf(ContainSubstring("ecus/uds imports uptane/check: ISO 14229 is generic")))
	})

	It("fails on a package in no layer", func() {
		v := layers.Violations(map[string][]string{pkg("dut/thing"): {pkg("sim/can")}})
		Expect(v).To(ConsistOf(ContainSubstring("dut/thing is in no layer")))
	})

	It("allows imports downward and inside a tier", func() {
		Expect(layers.Violations(map[string][]string{
			pkg("cmd/uptane-hil"):          {pkg("scenarios"), pkg("reports"), pkg("internal/progress")},
			pkg("reports/internal/render"): {pkg("reports"), pkg("reports/internal/sample")},
			pkg("internal/progress"):       {pkg("sim/events")},
			pkg("sim/vbus"):                {pkg("sim/can"), pkg("sim/seed")},
		})).To(BeEmpty())
	})
})
