package vehicle_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/internal/aktualizr"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

var _ = Describe("aktualizr-secondary's clock, moved with libfaketime", Label("aktualizr"), func() {
	It("judges expiry at the time the harness writes into its clock file: a running Secondary refuses metadata the moment its clock passes their expiry, and takes them again when the clock comes back", func() {
		needAktualizr()
		v := buildAktualizr(aktualizrRig("full"))
		p := v.AktualizrProcess("AKT-0001")
		Expect(p.Opts.FakeTime).To(BeTrue(), "started on libfaketime")
		rep, err := v.Campaign(2)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["AKT-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["AKT-0001"].Err)

		// The harness's clock stays; only the Secondary's moves, 20 years on
		// (past every expiry the backend signs), without a restart.
		c := v.Secondary("AKT-0001").Link.(interface{ Client() *ip.Client }).Client()
		c.Before = func(ip.Message) error { return p.SetOffset(20 * 365 * 24 * time.Hour) }
		rep, err = v.Campaign(3)
		Expect(err).NotTo(HaveOccurred())
		o := rep.ECUs["AKT-0001"]
		Expect(o.Status).To(Equal(primary.Failed))
		Expect(o.Err).To(MatchError(ContainSubstring("expired")))
		Expect(os.ReadFile(filepath.Join(p.Opts.Dir, "firmware.txt"))).To(Equal(v.ImageBytes("akt-hw", 2, 16<<10)))
		Expect(p.Done()).NotTo(BeClosed(), "the same process")

		// Back to the harness's time: it installs release 3.
		c.Before = func(ip.Message) error { return p.SetOffset(0) }
		rep, err = v.Campaign(3)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.ECUs["AKT-0001"].Status).To(Equal(primary.Installed), "%v", rep.ECUs["AKT-0001"].Err)
		expectRecorded(v, rep, "AKT-0001", 3)
	})

	It("follows a simulated clock: stopped at the simulated now before each message (a 48-hour jump costs nothing)", func() {
		needAktualizr()
		sim := clock.NewSim(time.Time{})
		sim.SetHorizon(10 * 365 * 24 * time.Hour)
		var status, after string
		var errAfter error
		var clockFile string
		Expect(sim.Run("aktualizr on a simulated clock", func() {
			v, err := vehicle.Build(vehicle.Options{Rig: aktualizrRig("full"), Dir: GinkgoT().TempDir(), Clock: sim, Reach: vehicle.ByRig})
			Expect(err).NotTo(HaveOccurred())
			defer v.Close()
			rep, err := v.Campaign(2)
			Expect(err).NotTo(HaveOccurred())
			status = rep.ECUs["AKT-0001"].Status
			sim.Jump(48 * time.Hour)
			rep, err = v.Campaign(3)
			Expect(err).NotTo(HaveOccurred())
			after, errAfter = rep.ECUs["AKT-0001"].Status, rep.ECUs["AKT-0001"].Err
			b, err := os.ReadFile(filepath.Join(v.AktualizrProcess("AKT-0001").Opts.Dir, aktualizr.ClockFile))
			Expect(err).NotTo(HaveOccurred())
			clockFile = strings.TrimSpace(string(b))
			Expect(clockFile).To(Equal(sim.Now().UTC().Format("2006-01-02 15:04:05")))
		})).To(Succeed())
		Expect(status).To(Equal(primary.Installed))
		Expect(after).To(Equal(primary.Installed), "%v", errAfter)
	})
})
