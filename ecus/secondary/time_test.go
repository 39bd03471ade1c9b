package secondary_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// {#verify_time} on a Secondary: it takes its time only from the time
// server's attestation over the nonce it made, once.
var _ = Describe("a Secondary's time", func() {
	var (
		ecu    *secondary.ECU
		server *keys.Private
		clk    = clock.NewWall()
	)
	attest := func(k keys.Signer, t time.Time, nonces ...[]byte) []byte {
		GinkgoHelper()
		a := manifest.TimeAttestation{Time: t}
		for _, n := range nonces {
			a.Nonces = append(a.Nonces, metadata.HexBytes(n))
		}
		st, err := manifest.SignTime(a, k)
		Expect(err).NotTo(HaveOccurred())
		b, err := st.Encode()
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	lastAttack := func() check.ID {
		GinkgoHelper()
		as := ecu.State().Attacks
		Expect(as).NotTo(BeEmpty())
		return as[len(as)-1].Check
	}
	BeforeEach(func() {
		sd := seed.Seed(7)
		var err error
		server, err = keys.Generate(keys.Ed25519, sd.Reader("time"))
		Expect(err).NotTo(HaveOccurred())
		k, err := keys.Generate(keys.Ed25519, sd.Reader("ecu"))
		Expect(err).NotTo(HaveOccurred())
		dir, err := repo.OpenImage(repo.ImageOptions{Clock: clk, Keys: repo.KeyConfig{Rand: sd.Reader("director")}})
		Expect(err).NotTo(HaveOccurred())
		cfg := secondary.Config{ID: "BRK-1", HardwareID: "brk", VIN: "VIN1", Verification: secondary.Partial, Dir: GinkgoT().TempDir(),
			Key: k, Clock: clk, TimeKey: server.Public(), Nonces: sd.Reader("nonces")}
		img := []byte("factory image")
		Expect(secondary.Provision(cfg, dir.Root(), nil, verify.FileSet{},
			store.Image{Name: "brk/fw-r1.bin", Length: int64(len(img)), Hashes: meta.HashesOf(img), ReleaseCounter: 1}, img)).To(Succeed())
		ecu, err = secondary.Boot(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(ecu.TimeNonce()).To(HaveLen(secondary.TimeNonceSize))
	})

	It("is provisioned with the time of manufacture and a nonce for its first time attestation", Label("std:build_time#4"), func() {
		Expect(ecu.State().LatestTime.IsZero()).To(BeFalse())
		Expect(ecu.State().LatestTime.After(clk.Now())).To(BeFalse())
		Expect(clk.Now().Sub(ecu.State().LatestTime)).To(BeNumerically("<", time.Minute))
	})

	It("takes an attestation over its nonce, then makes a new nonce so that it is good for one use", Label("std:partial_verification#2", "std:verify_time#1"), func() {
		n := ecu.TimeNonce()
		at := clk.Now().Add(time.Hour).Truncate(time.Second)
		att := attest(server, at, []byte("another ECU"), n)
		Expect(ecu.SetTime(att)).To(Succeed())
		Expect(ecu.State().LatestTime.Equal(at)).To(BeTrue())
		Expect(ecu.TimeNonce()).NotTo(Equal(n))

		err := ecu.SetTime(att)
		Expect(check.Is(err, check.VerifyTimeAttestation)).To(BeTrue(), "a replay: %v", err)
		Expect(lastAttack()).To(Equal(check.VerifyTimeAttestation), "kept for the next version report")
		Expect(ecu.State().LatestTime.Equal(at)).To(BeTrue(), "the time stays")
	})

	It("refuses an unauthenticated 8-byte time, the lock-out write, and keeps its time", func() {
		before := ecu.State().LatestTime
		err := ecu.SetTime(pouf.EncodeTime(clk.Now().AddDate(50, 0, 0)))
		Expect(check.Is(err, check.VerifyTimeAttestation)).To(BeTrue(), "got %v", err)
		Expect(lastAttack()).To(Equal(check.VerifyTimeAttestation))
		Expect(ecu.State().LatestTime).To(Equal(before))
	})

	It("refuses a far-future time even from the time server: beyond its Director Root's expiry", func() {
		err := ecu.SetTime(attest(server, clk.Now().AddDate(50, 0, 0), ecu.TimeNonce()))
		Expect(check.Is(err, check.VerifyTimeBound)).To(BeTrue(), "got %v", err)
	})

	It("refuses an attestation signed by another key", func() {
		other, err := keys.Generate(keys.Ed25519, seed.Seed(8).Reader("other"))
		Expect(err).NotTo(HaveOccurred())
		err = ecu.SetTime(attest(other, clk.Now().Add(time.Hour), ecu.TimeNonce()))
		Expect(check.Is(err, check.VerifyTimeAttestation)).To(BeTrue(), "got %v", err)
	})
})
