package verify_test

import (
	"encoding/binary"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// {#verify_time}: the time is the time server's attestation over the
// ECU's nonce, monotonic, and bounded by the trusted Director Root.
var _ = Describe("verify.VerifyTime", func() {
	var (
		server, other *keys.Private
		in            verify.TimeInput
		nonce         = []byte("ecu-nonce-000001")
	)
	attest := func(k keys.Signer, t time.Time, nonces ...[]byte) []byte {
		GinkgoHelper()
		a := manifest.TimeAttestation{Time: t}
		for _, n := range nonces {
			a.Nonces = append(a.Nonces, metadata.HexBytes(n))
		}
		st, err := manifest.SignTime(a, k)
		Expect(err).NotTo(HaveOccurred())
		return must(st.Encode())
	}
	raw := func(b []byte) (time.Time, error) { return time.Unix(int64(binary.BigEndian.Uint64(b)), 0).UTC(), nil }
	rawTime := func(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.Unix())) }
	BeforeEach(func() {
		server, other = key(keys.Ed25519, "time-server"), key(keys.Ed25519, "not-the-time-server")
		v := newVehicle(1)
		in = verify.TimeInput{Key: server.Public(), Nonce: nonce, Latest: t0, Director: v.tDir}
	})

	It("takes the time of an attestation by the time server over the ECU's nonce", Label("std:verify_time#1", "std:in_vehicle#10", "std:full_verification#4"), func() {
		t, err := verify.VerifyTime(in, attest(server, t0.Add(time.Hour), []byte("other"), nonce), raw)
		Expect(err).NotTo(HaveOccurred())
		Expect(t).To(Equal(t0.Add(time.Hour)))
	})

	DescribeTable("refuses",
		func(id check.ID, data func() []byte) {
			_, err := verify.VerifyTime(in, data(), raw)
			Expect(check.Is(err, id)).To(BeTrue(), "got %v", err)
			in.Profile = check.Without(id)
			_, err = verify.VerifyTime(in, data(), raw)
			Expect(err).NotTo(HaveOccurred(), "the control without %s takes it", id)
		},
		Entry("an unauthenticated 8-byte time", check.VerifyTimeAttestation,
			func() []byte { return rawTime(t0.Add(time.Hour)) }),
		Entry("an attestation signed by another key", check.VerifyTimeAttestation,
			func() []byte { return attest(other, t0.Add(time.Hour), nonce) }),
		Entry("a replayed attestation that does not cover the ECU's nonce", check.VerifyTimeAttestation,
			func() []byte { return attest(server, t0.Add(time.Hour), []byte("yesterday's nonce")) }),
		Entry("a time before the latest attested one", check.VerifyTimeMonotonic,
			func() []byte { return attest(server, t0.Add(-time.Hour), nonce) }),
		Entry("a time beyond the trusted Director Root's expiry", check.VerifyTimeBound,
			func() []byte { return attest(server, t0.AddDate(50, 0, 0), nonce) }),
	)

	It("refuses the lock-out write (50 years ahead, unauthenticated) twice over: attestation, and the bound", Label("std:in_vehicle#2", "std:in_vehicle#10"), func() {
		_, err := verify.VerifyTime(in, rawTime(t0.AddDate(50, 0, 0)), raw)
		Expect(check.Is(err, check.VerifyTimeAttestation)).To(BeTrue(), "got %v", err)
		in.Profile = check.Without(check.VerifyTimeAttestation)
		_, err = verify.VerifyTime(in, rawTime(t0.AddDate(50, 0, 0)), raw)
		Expect(check.Is(err, check.VerifyTimeBound)).To(BeTrue(), "got %v", err)
		in.Profile = check.Without(check.VerifyTimeAttestation, check.VerifyTimeBound)
		t, err := verify.VerifyTime(in, rawTime(t0.AddDate(50, 0, 0)), raw)
		Expect(err).NotTo(HaveOccurred(), "the control that bricks")
		Expect(t.Year()).To(Equal(2080))
	})

	It("refuses an attestation when no time server key was provisioned", func() {
		in.Key = nil
		_, err := verify.VerifyTime(in, attest(server, t0.Add(time.Hour), nonce), raw)
		Expect(check.Is(err, check.VerifyTimeAttestation)).To(BeTrue(), "got %v", err)
	})
})
