package vcantest_test

import (
	"os"
	"os/exec"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/vcantest"
)

// childEnv makes the test binary run the child suite below: one spec
// labelled vcan behind the guard, one without.
const childEnv = "VCANTEST_CHILD"

func TestVcantest(t *testing.T) {
	RegisterFailHandler(Fail)
	if os.Getenv(childEnv) == "1" {
		RunSpecs(t, "internal/vcantest child")
		return
	}
	RunSpecs(t, "internal/vcantest")
}

var _ = vcantest.Guard()

var _ = Describe("child suite", func() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	It("needs CAN", Label(vcantest.Label), func() {})
	It("needs nothing", func() {})
})

// child runs this test binary as the child suite, with
// UPTANE_HIL_REQUIRE_VCAN set to require, and returns its output and error.
func child(require string) (string, error) {
	GinkgoHelper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestVcantest$", "-ginkgo.no-color")
	cmd.Env = append(os.Environ(), childEnv+"=1", vcantest.RequireEnv+"="+require)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var _ = Describe("the vcan guard", func() {
	if os.Getenv(childEnv) == "1" {
		return
	}
	It("on a host without SocketCAN: skips a vcan spec saying why, and fails it where CAN is required", func() {
		if vcantest.Missing() == nil {
			out, err := child("1")
			Expect(err).NotTo(HaveOccurred(), "this host has SocketCAN: the vcan spec runs and passes\n%s", out)
			Expect(out).To(ContainSubstring("2 Passed"))
			return
		}
		out, err := child("")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("1 Passed | 0 Failed | 0 Pending | 1 Skipped"))
		Expect(out).To(MatchRegexp(`SKIPPED: the specs labelled vcan need SocketCAN, and .*make test-vcan.*UPTANE_HIL_REQUIRE_VCAN=1 makes a missing CAN a failure`))

		out, err = child("1")
		Expect(err).To(HaveOccurred(), "a missing CAN where it is required fails\n%s", out)
		Expect(out).To(ContainSubstring("SocketCAN is required here (UPTANE_HIL_REQUIRE_VCAN=1) but "))
		Expect(out).To(ContainSubstring("1 Passed | 1 Failed | 0 Pending | 0 Skipped"))
		Expect(out).NotTo(ContainSubstring("SKIPPED"))
	})
})
