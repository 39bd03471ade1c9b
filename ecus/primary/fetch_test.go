package primary_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/ecus/primary"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

func TestPrimary(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ecus/primary")
}

type files map[string][]byte

func (f files) RoundTrip(req *http.Request) (*http.Response, error) {
	b, ok := f[req.URL.Path]
	if !ok {
		return &http.Response{StatusCode: 404, Body: io.NopCloser(bytes.NewReader(nil)), Request: req}, nil
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req}, nil
}

var _ = Describe("Primary repository fetcher", func() {
	var (
		sim   *clock.Sim
		proxy *mitm.Proxy
		f     *primary.Fetcher
	)
	big := bytes.Repeat([]byte("x"), 100_000)
	BeforeEach(func() {
		sim = clock.NewSim(time.Time{})
		proxy = mitm.New(files{"/director/timestamp.json": []byte(`{"signed":{}}`), "/director/big": big}, sim)
		f = &primary.Fetcher{Repo: "director", Base: "http://backend.invalid/director/", Client: &http.Client{Transport: proxy},
			Clock: sim, Timeout: 10 * time.Second, MinRate: 1000, Grace: 2 * time.Second}
	})
	run := func(fn func()) {
		GinkgoHelper()
		Expect(sim.Run("test", fn)).To(Succeed())
	}

	It("downloads a file", func() {
		run(func() {
			b, err := f.Fetch("timestamp.json", 1024)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal(`{"signed":{}}`))
		})
	})
	It("reads at most maxBytes+1 of an oversized file, so the caller can refuse it", func() {
		run(func() {
			b, err := f.Fetch("big", 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(HaveLen(1001))
		})
	})
	It("reports a missing file as ErrNotFound", func() {
		run(func() {
			_, err := f.Fetch("2.root.json", 1000)
			Expect(errors.Is(err, primary.ErrNotFound)).To(BeTrue())
		})
	})
	It("times out a dropped request on the clock: in_vehicle.request_timeout (drop-request)", func() {
		run(func() {
			proxy.Add(&mitm.Rule{Name: "drop", Action: mitm.Drop{}})
			start := sim.Now()
			_, err := f.Fetch("timestamp.json", 1024)
			Expect(check.Is(err, check.InVehicleRequestTimeout)).To(BeTrue(), "%v", err)
			Expect(sim.Since(start)).To(Equal(10 * time.Second))
			ce, _ := check.As(err)
			Expect(ce.Attack).To(Equal(check.DropRequest))
			Expect(ce.Role).To(Equal("timestamp"))
		})
	})
	It("aborts a download slower than the threshold: in_vehicle.download_speed (slow retrieval)", Label("std:in_vehicle#3"), func() {
		run(func() {
			proxy.Add(&mitm.Rule{Name: "slow", Action: mitm.Slow{Chunk: 100, Interval: time.Second}})
			_, err := f.Fetch("big", 200_000)
			Expect(check.Is(err, check.InVehicleDownloadSpeed)).To(BeTrue(), "%v", err)
		})
	})
	It("lets the slow download through when the control profile lacks that check", Label("std:in_vehicle#3"), func() {
		f.Profile = check.Without(check.InVehicleDownloadSpeed)
		f.Timeout = 24 * time.Hour
		run(func() {
			proxy.Add(&mitm.Rule{Name: "slow", Path: regexp.MustCompile("big"), Action: mitm.Slow{Chunk: 10_000, Interval: time.Second}})
			b, err := f.Fetch("big", 200_000)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(Equal(big))
		})
	})
})
