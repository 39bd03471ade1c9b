package mitm_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// upstream answers "<path> v<n>" where n counts requests for that path.
type upstream struct{ n map[string]int }

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.n[req.URL.Path]++
	b := []byte(fmt.Sprintf("%s v%d", req.URL.Path, u.n[req.URL.Path]))
	return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req}, nil
}

func get(c *http.Client, path string) (int, string, error) {
	resp, err := c.Get("http://director.invalid" + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

var _ = Describe("man in the middle on the repository link", func() {
	var (
		sim   *clock.Sim
		proxy *mitm.Proxy
		c     *http.Client
	)
	BeforeEach(func() {
		sim = clock.NewSim(time.Time{})
		proxy = mitm.New(&upstream{n: map[string]int{}}, sim)
		c = &http.Client{Transport: proxy}
	})
	run := func(f func()) {
		GinkgoHelper()
		Expect(sim.Run("test", f)).To(Succeed())
	}

	It("passes traffic through and records it", func() {
		run(func() {
			_, b, err := get(c, "/timestamp.json")
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(Equal("/timestamp.json v1"))
		})
		Expect(proxy.Recorded("/timestamp.json")).To(HaveLen(1))
		Expect(proxy.Log()[0].Rule).To(BeEmpty())
	})

	It("freezes: replays the first response it saw while the rule is on", func() {
		run(func() {
			get(c, "/timestamp.json")
			off := proxy.Add(&mitm.Rule{Name: "freeze", Path: regexp.MustCompile(`timestamp\.json$`), Action: mitm.Replay{Index: 0}})
			get(c, "/timestamp.json")
			_, b, _ := get(c, "/timestamp.json")
			Expect(b).To(Equal("/timestamp.json v1"))
			off()
			_, b, _ = get(c, "/timestamp.json")
			Expect(b).To(Equal("/timestamp.json v2"), "replayed requests never reached the repository")
		})
		Expect(proxy.Log()[2].Rule).To(Equal("freeze"))
	})

	It("substitutes and truncates responses", func() {
		run(func() {
			off := proxy.Add(&mitm.Rule{Name: "edit", Action: mitm.Substitute{Edit: func(b []byte) []byte { return append(b, '!') }}})
			_, b, _ := get(c, "/a")
			Expect(b).To(Equal("/a v1!"))
			off()
			proxy.Add(&mitm.Rule{Name: "cut", Action: mitm.Truncate{N: 3}, Times: 1})
			_, b, _ = get(c, "/a")
			Expect(b).To(Equal("/a "))
			_, b, _ = get(c, "/a")
			Expect(b).To(Equal("/a v3"), "Times: 1 fires once")
		})
	})

	It("slows a download on the simulated clock", func() {
		run(func() {
			proxy.Add(&mitm.Rule{Name: "slow", Action: mitm.Slow{Chunk: 2, Interval: time.Second}})
			start := sim.Now()
			_, b, err := get(c, "/abcdef")
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(Equal("/abcdef v1"))
			Expect(sim.Since(start)).To(Equal(5 * time.Second))
		})
	})

	It("drops a request: it hangs on the clock, then fails", func() {
		run(func() {
			proxy.Add(&mitm.Rule{Name: "drop", Action: mitm.Drop{Hold: time.Hour}})
			start := sim.Now()
			_, _, err := get(c, "/x")
			Expect(err).To(MatchError(ContainSubstring("request dropped")))
			Expect(sim.Since(start)).To(Equal(time.Hour))
		})
	})

	It("sends endless data and error statuses", func() {
		run(func() {
			proxy.Add(&mitm.Rule{Name: "endless", Path: regexp.MustCompile(`big`), Action: mitm.Endless{Prefix: []byte("{")}})
			proxy.Add(&mitm.Rule{Name: "block", Path: regexp.MustCompile(`img`), Action: mitm.Status{Code: 404}})
			resp, err := c.Get("http://x.invalid/big")
			Expect(err).NotTo(HaveOccurred())
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 100_000))
			Expect(b).To(HaveLen(100_000))
			Expect(b[0]).To(Equal(byte('{')))
			code, _, _ := get(c, "/img")
			Expect(code).To(Equal(404))
		})
	})
})
