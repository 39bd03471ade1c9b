package aktualizr

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the fake clock of a Secondary", func() {
	It("writes the harness's time into its clock file: stopped at a time, or running at an offset; nothing without FakeTime", func() {
		dir := GinkgoT().TempDir()
		p := &Process{Opts: Options{Dir: dir, FakeTime: true}}
		Expect(p.SetTime(time.Date(2031, 2, 3, 4, 5, 6, 7, time.FixedZone("x", 3600)))).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dir, ClockFile))).To(Equal([]byte("2031-02-03 03:05:06\n")))
		Expect(p.SetOffset(48*time.Hour + 500*time.Millisecond)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dir, ClockFile))).To(Equal([]byte("+172800s\n")))
		Expect(p.SetOffset(-time.Hour)).To(Succeed())
		Expect(os.ReadFile(filepath.Join(dir, ClockFile))).To(Equal([]byte("-3600s\n")))
		Expect((&Process{Opts: Options{Dir: dir}}).SetTime(time.Now())).To(MatchError(ErrNoClock))
	})

	It("moves the clock of a process it starts, as the file says at each reading (libfaketime, FAKETIME_NO_CACHE)", func() {
		if _, err := FakeTimeLibrary(); err != nil {
			Skip("SKIPPED, not passed: " + err.Error())
		}
		dir := GinkgoT().TempDir()
		env, err := fakeTimeEnv(dir)
		Expect(err).NotTo(HaveOccurred())
		p := &Process{Opts: Options{Dir: dir, FakeTime: true}}
		Expect(p.SetTime(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC))).To(Succeed())
		// one shell: two readings, the file rewritten between them
		script := `date -u +%Y-%m-%dT%H:%M:%S; printf '2040-01-01 00:00:00\n' > "$F"; date -u +%Y-%m-%dT%H:%M:%S`
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(append(os.Environ(), env...), "F="+filepath.Join(dir, ClockFile))
		out, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(string(out))).To(Equal([]string{"2031-02-03T04:05:06", "2040-01-01T00:00:00"}))
	})
})
