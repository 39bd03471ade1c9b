package repo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

var _ = Describe("Time server", func() {
	It("attests its current time over the nonces it is asked for, signed by its key, over HTTP", Label("std:in_vehicle#10"), func() {
		clk := newClock(epoch.Add(90 * time.Minute))
		ts := repo.NewTimeServer(clk, genKeys(5, "time", 1)[0])
		c := &http.Client{Transport: repo.InProcessTransport(ts.Handler())}
		get := func(u string) (int, []byte) {
			resp, err := c.Get(u)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		code, b := get("http://time/attest?nonce=0a0b&nonce=ff")
		Expect(code).To(Equal(200))
		st, err := manifest.ParseTimeAttestation(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Verify(ts.PublicKey())).To(Succeed())
		Expect(st.Signed.Time.Equal(epoch.Add(90 * time.Minute))).To(BeTrue())
		Expect(st.Signed.HasNonce([]byte{0x0a, 0x0b})).To(BeTrue())
		Expect(st.Signed.HasNonce([]byte{0xff})).To(BeTrue())
		Expect(st.Signed.HasNonce([]byte{0x01})).To(BeFalse())

		code, b = get("http://time/key")
		Expect(code).To(Equal(200))
		var k metadata.Key
		Expect(json.Unmarshal(b, &k)).To(Succeed())
		Expect(st.Verify(&k)).To(Succeed())

		code, _ = get("http://time/attest")
		Expect(code).To(Equal(400), "no nonce")
		code, _ = get("http://time/attest?nonce=zz")
		Expect(code).To(Equal(400), "not hex")
		code, _ = get("http://time/other")
		Expect(code).To(Equal(404))
	})
})
