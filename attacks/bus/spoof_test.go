package bus_test

import (
	"bytes"
	"crypto/rand"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// otherBus is a bus without the virtual bus's bus-off model.
type otherBus struct{ can.Bus }

func (otherBus) Name() string { return "vcan0" }

var _ = Describe("a spoofed Secondary (Silence, Spoof)", func() {
	It("answers the Primary in place of the silenced ECU with reports that carry its nonce, claim the image and are signed by the attacker", func() {
		attacker, err := keys.Generate(keys.Ed25519, bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
		Expect(err).NotTo(HaveOccurred())
		genuine, err := manifest.SignReport(manifest.NewReport("BRK-1", manifest.Image{Filename: "brk-v2/firmware-r1.bin", Length: 1}, nil, clockStart, []byte("genuine"), 1), attacker)
		Expect(err).NotTo(HaveOccurred())
		genuineJSON, _ := genuine.Encode()
		claim := manifest.Image{Filename: "brk-v2/firmware-r2.bin", Length: 3, Hashes: meta.HashesOf([]byte("new"))}
		ecu := &fakeECU{report: genuineJSON}
		var reports [][]byte
		onBench(func(b *bench) {
			b.serve("BRK-1", ecu, uds.ServerConfig{})
			p := b.primary()
			restore, err := bus.Silence(b.bus, "BRK-1")
			Expect(err).NotTo(HaveOccurred())
			sp, err := bus.NewSpoof(b.bus, b.sim, ch, bus.SpoofConfig{ECU: "BRK-1", Signer: attacker, Counter: 1 << 20,
				Claim: func() (manifest.Image, error) { return claim, nil }})
			Expect(err).NotTo(HaveOccurred())
			for _, n := range []string{"nonce-one", "nonce-two"} {
				Expect(p.WriteNonce([]byte(n))).To(Succeed())
				r, err := p.ReadVersionReport()
				Expect(err).NotTo(HaveOccurred())
				reports = append(reports, r)
			}
			newImage, err := p.VerifyMetadata()
			Expect(err).NotTo(HaveOccurred())
			Expect(newImage).To(BeFalse(), "the spoof says nothing is new, so the Primary sends no image")
			Expect(p.PutMetadata("director", "5.targets.json", make([]byte, 2000), nil)).To(Succeed())
			Expect(sp.Reports()).To(Equal(2))
			Expect(sp.Err()).NotTo(HaveOccurred())

			// switched off: the ECU recovers and answers for itself
			Expect(sp.Close()).To(Succeed())
			Expect(restore()).To(Succeed())
			r, err := p.ReadVersionReport()
			Expect(err).NotTo(HaveOccurred())
			Expect(r).To(Equal(genuineJSON))
		})
		// the silenced ECU still hears the bus: the single-frame requests
		// reach it; longer ones do not, as it cannot send their flow control
		Expect(ecu.log).To(ContainElement(pouf.RoutineName(pouf.RoutineVersionReport)))
		Expect(ecu.log).NotTo(ContainElement("nonce"))
		for i, n := range []string{"nonce-one", "nonce-two"} {
			sr, err := manifest.ParseReport(reports[i], manifest.MaxReportSize)
			Expect(err).NotTo(HaveOccurred())
			Expect(sr.Signed.ECUSerial).To(Equal("BRK-1"))
			Expect([]byte(sr.Signed.Nonce)).To(Equal([]byte(n)))
			Expect(sr.Signed.Installed).To(Equal(claim))
			Expect(sr.Signed.Counter).To(Equal(uint64(1<<20 + i)))
			Expect(sr.Verify(attacker.Public())).To(Succeed())
		}
	})

	It("needs the virtual bus's bus-off model to silence an ECU", func() {
		_, err := bus.Silence(otherBus{}, "BRK-1")
		Expect(err).To(MatchError(bus.ErrNoBusOff))
		Expect(err).To(MatchError(ContainSubstring("silencing BRK-1 needs the virtual bus")))
	})

	It("needs a signer and a claim", func() {
		onBench(func(b *bench) {
			k, _ := keys.Generate(keys.Ed25519, rand.Reader)
			_, err := bus.NewSpoof(b.bus, b.sim, ch, bus.SpoofConfig{ECU: "BRK-1", Signer: k})
			Expect(err).To(MatchError(ContainSubstring("needs a signer and a claim")))
		})
	})
})
