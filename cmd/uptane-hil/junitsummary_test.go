package main

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe(".ci/junit-summary: the closing line of make test", func() {
	It("counts a spec skipped with a reason (or a result not applicable to a device under test) apart: neither passed nor failed", func() {
		script, err := filepath.Abs("../../.ci/junit-summary")
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(dir, ".ci"), 0o755)).To(Succeed())
		Expect(os.MkdirAll(filepath.Join(dir, "out", "test"), 0o755)).To(Succeed())
		src, err := os.ReadFile(script)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(dir, ".ci", "junit-summary"), src, 0o755)).To(Succeed())
		write := func(name, body string) {
			Expect(os.WriteFile(filepath.Join(dir, "out", "test", name), []byte(body), 0o644)).To(Succeed())
		}
		// a spec filtered out by label ("skipped"), one skipped with a reason, a passed one
		write("junit-host.xml", `<testsuites><testsuite><testcase name="a"></testcase><testcase name="b"><skipped message="skipped"/></testcase><testcase name="c"><skipped message="skipped - no CAN here"/></testcase></testsuite></testsuites>`)
		write("junit-vcan-x.xml", `<testsuites><testsuite><testcase name="d"></testcase><testcase name="e"><failure message="x"/></testcase><testcase name="f"><skipped message="not applicable: why"></skipped></testcase></testsuite></testsuites>`)
		write("junit-tuf.xml", `<testsuites><testcase name="t1"/><testcase name="t2"/></testsuites>`)
		out, err := exec.Command("bash", filepath.Join(dir, ".ci", "junit-summary")).CombinedOutput()
		Expect(err).To(HaveOccurred(), "a failure fails the step")
		Expect(string(out)).To(Equal("specs: 4 passed, 1 failed, 2 skipped with a reason (neither passed nor failed: see the JUnit reports) (TUF conformance: 2 of 2 passed)\n"))

		write("junit-vcan-x.xml", `<testsuites><testsuite><testcase name="d"></testcase></testsuite></testsuites>`)
		write("junit-host.xml", `<testsuites><testsuite><testcase name="a"></testcase><testcase name="b"><skipped message="skipped"/></testcase></testsuite></testsuites>`)
		out, err = exec.Command("bash", filepath.Join(dir, ".ci", "junit-summary")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(Equal("specs: 4 passed, 0 failed (TUF conformance: 2 of 2 passed)\n"), "as before when nothing skipped itself")
	})
})
