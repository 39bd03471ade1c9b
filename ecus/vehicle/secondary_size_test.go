package vehicle_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// endlessImage is a link to a Secondary from a compromised Primary that
// sends the image with extra bytes after it (endless data). Before that it
// announces the longer image over UDS (RequestFileTransfer) to the ECU's
// diagnostic handler and keeps the answer.
type endlessImage struct {
	*secondary.Direct
	vin      string
	extra    int
	announce error // the handler's answer to the announcement
	accepted bool  // the handler took the announcement
	put      error // the ECU's answer to the image
	after    []error
}

func (l *endlessImage) PutImage(name string, data []byte, p pouf.Progress) error {
	h := secondary.NewHandler(l.ECU, l.vin)
	sink, err := h.StartDownload(uds.FileRequest{Path: "image/" + name, Size: uint64(len(data) + l.extra)})
	l.announce, l.accepted = err, sink != nil
	if sink != nil {
		sink.Abort(false)
	}
	long := append(append([]byte(nil), data...), make([]byte, l.extra)...)
	l.put = l.Direct.PutImage(name, long, p)
	if l.put != nil {
		// download_image: after a failed download the ECU goes on to its
		// version report; it neither verifies nor installs anything.
		l.after = []error{l.Direct.VerifyImage(), l.Direct.Install()}
	}
	return l.put
}

// reportedChecks are the checks in a signed version report.
func reportedChecks(raw []byte) []check.ID {
	GinkgoHelper()
	sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
	Expect(err).NotTo(HaveOccurred())
	var ids []check.ID
	for _, a := range sr.Signed.Attacks {
		ids = append(ids, a.Check)
	}
	return ids
}

var _ = Describe("download_image step 4 on a Secondary: at most the length in the Targets metadata, then the version report", Label("std:download_image#7", "std:download_image#9"), func() {
	const victim = "BRK-0001"
	for _, p := range []check.Profile{check.Conformant, check.Without(check.DownloadImageSize)} {
		It("under "+p.Name+": an image longer than its metadata from a compromised Primary", func() {
			within(func(sim *clock.Sim) {
				var l *endlessImage
				v := build(sim, vehicle.Options{Profiles: map[string]check.Profile{victim: p},
					Reach: vehicle.Everywhere(vehicle.Custom{Link: func(v *vehicle.Vehicle, s *vehicle.Secondary) (link.Secondary, error) {
						d := &secondary.Direct{ECU: s.ECU, Cfg: s.Config, VIN: v.Rig.Vehicle.VIN}
						if s.Rig.ID != victim {
							return d, nil
						}
						l = &endlessImage{Direct: d, vin: v.Rig.Vehicle.VIN, extra: 1 << 20}
						return l, nil
					}})})
				rep, err := v.Campaign(2, victim)
				Expect(err).NotTo(HaveOccurred())
				o := rep.ECUs[victim]
				Expect(o.Status).To(Equal(primary.Failed))
				Expect(release(l.Direct)).To(Equal(uint64(1)), "nothing was installed")
				if p.On(check.DownloadImageSize) {
					Expect(l.accepted).To(BeFalse())
					Expect(l.announce).To(MatchError(ContainSubstring(check.DownloadImageSize.String())), "the announcement is refused before a byte arrives")
					Expect(check.Is(l.put, check.DownloadImageSize)).To(BeTrue(), "%v", l.put)
					Expect(l.after).To(HaveLen(2))
					Expect(l.after[0]).To(MatchError(ContainSubstring("no image received")))
					Expect(l.after[1]).To(MatchError(ContainSubstring("no verified image")))
					Expect(reportedChecks(o.Report)).To(ContainElement(check.DownloadImageSize), "the next version report tells the Director")
				} else {
					Expect(l.accepted).To(BeTrue(), "the control takes the announced megabyte")
					Expect(l.put).NotTo(HaveOccurred(), "and buffers it")
					Expect(check.Is(o.Err, check.VerifyImageHashes)).To(BeTrue(), "only the length check of verify image stops it: %v", o.Err)
					Expect(reportedChecks(o.Report)).NotTo(ContainElement(check.DownloadImageSize))
				}
			})
		})
	}
})
