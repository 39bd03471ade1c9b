package eavesdrop_test

import (
	"io"
	"math/rand/v2"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/eavesdrop"
	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/isotp"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
	"github.com/uptane-hil/uptane-hil/uptane/imagecrypt"
)

// secret is n seeded bytes (an image's plaintext).
func secret(name string, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(seed.Seed(1).Reader(name), b)
	return b
}

// transfer sends msgs from A to B over ISO-TP on a fresh simulated bus
// with a tap attached, and returns the tap.
func transfer(fd bool, a, b isotp.Options, msgs ...[]byte) *eavesdrop.Tap {
	GinkgoHelper()
	tap := eavesdrop.New(eavesdrop.Options{})
	sim := clock.NewSim(time.Time{})
	sim.SetHorizon(time.Hour)
	Expect(sim.Run("spec", func() {
		cfg := vbus.Config{Name: "body", FD: fd, Clock: sim, Bitrate: 500000}
		if fd {
			cfg.DataBitrate = 2000000
		}
		bus := vbus.New(cfg)
		stop := tap.Attach(bus)
		defer stop()
		tx, err := isotp.New(bus, sim, a)
		Expect(err).NotTo(HaveOccurred())
		rx, err := isotp.New(bus, sim, b)
		Expect(err).NotTo(HaveOccurred())
		for _, m := range msgs {
			done := clock.NewQueue[error](sim, 1)
			sim.Go("send", func() { done.TryPush(tx.Send(m)) })
			got, err := rx.Recv(10 * time.Second)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(m))
			e, _ := done.Pop(-1)
			Expect(e).NotTo(HaveOccurred())
		}
		Expect(tx.Close()).To(Succeed())
		Expect(rx.Close()).To(Succeed())
	})).To(Succeed())
	return tap
}

func contains(msgs [][]byte, m []byte) bool {
	for _, x := range msgs {
		if string(x) == string(m) {
			return true
		}
	}
	return false
}

var _ = Describe("the eavesdropper on a bus", func() {
	a := isotp.Options{Name: "primary", TxID: 0x7e1, RxID: 0x7e9}
	b := isotp.Options{Name: "ivi", TxID: 0x7e9, RxID: 0x7e1}

	It("reassembles ISO-TP messages from classic frames and learns a plaintext sent in clear", func() {
		img := secret("image", 5000)
		tap := transfer(false, a, b, []byte("short"), img)
		Expect(tap.Frames()).To(BeNumerically(">", 5000/7))
		Expect(contains(tap.Messages(), []byte("short"))).To(BeTrue())
		Expect(contains(tap.Messages(), img)).To(BeTrue())
		Expect(tap.Leaked(img)).To(Equal(5000 / eavesdrop.Block * eavesdrop.Block))
		Expect(tap.Leaked(secret("other image", 5000))).To(BeZero())
	})

	It("reassembles CAN FD frames (escape single frame, 32-bit first frame) and extended addressing", func() {
		fa, fb := a, b
		fa.FD, fb.FD = true, true
		fa.BRS, fb.BRS = true, true
		mid := secret("mid", 40) // FD single frame with the SF_DL escape
		big := secret("big", 70000)
		tap := transfer(true, fa, fb, mid, big)
		Expect(contains(tap.Messages(), mid)).To(BeTrue())
		Expect(contains(tap.Messages(), big)).To(BeTrue())
		Expect(tap.Leaked(big)).To(Equal(70000 / 16 * 16))

		ea, eb := a, b
		ea.Addressing, eb.Addressing = isotp.ExtendedAddressing, isotp.ExtendedAddressing
		ea.TxAddr, ea.RxAddr, eb.TxAddr, eb.RxAddr = 0x63, 0xf1, 0xf1, 0x63
		img := secret("ext", 3000)
		tap = transfer(false, ea, eb, img)
		Expect(contains(tap.Messages(), img)).To(BeTrue())
		Expect(tap.Leaked(img)).To(Equal(3000 / 16 * 16))
	})

	It("learns nothing from the same image encrypted for the ECU", func() {
		img := secret("image", 8192)
		k, err := imagecrypt.GenerateKey(seed.Seed(1).Reader("ecu-enc"))
		Expect(err).NotTo(HaveOccurred())
		_, ct, err := imagecrypt.Encrypt(seed.Seed(1).Reader("director"), k.PublicKey(), "ivi-v5/firmware-r2.bin.IVI.enc", img)
		Expect(err).NotTo(HaveOccurred())
		tap := transfer(false, a, b, ct)
		Expect(contains(tap.Messages(), ct)).To(BeTrue(), "the ciphertext was seen")
		Expect(tap.Leaked(img)).To(BeZero())
	})

	It("keeps what it saw of a reception cut short, and counts partial leaks by block", func() {
		tap := eavesdrop.New(eavesdrop.Options{})
		img := secret("image", 64)
		ff := can.New(0x7e1, append([]byte{0x10, 64}, img[:6]...))
		tap.Frame(can.Event{Frame: ff})
		for sn, off := byte(1), 6; off < 34; sn, off = sn+1, off+7 {
			tap.Frame(can.Event{Frame: can.New(0x7e1, append([]byte{0x20 | sn}, img[off:off+7]...))})
		}
		tap.Frame(can.Event{Frame: can.New(0x7e1, append([]byte{0x27}, img[34:41]...)), Fault: can.FaultDrop}) // never on the wire
		tap.Frame(can.Event{Frame: can.New(0x7e1, append([]byte{0x26}, img[41:48]...))})                       // out of order: cut
		Expect(contains(tap.Messages(), img[:34])).To(BeTrue())
		Expect(tap.Leaked(img)).To(Equal(2 * eavesdrop.Block)) // bytes 0..31 in whole blocks
		Expect(tap.Frames()).To(Equal(6))
	})

	It("survives hostile frames with bounded memory", func() {
		tap := eavesdrop.New(eavesdrop.Options{MaxBytes: 4096})
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 50000; i++ {
			var f can.Frame
			f.ID = uint32(r.IntN(4))
			f.Len = uint8(r.IntN(65))
			for j := range f.Data {
				f.Data[j] = byte(r.IntN(256))
			}
			if r.IntN(3) == 0 {
				f.Data[0] = 0x10 // a first frame announcing up to 4 GiB
				f.Data[1] = 0
			}
			tap.Frame(can.Event{Frame: f})
		}
		n := 0
		for _, m := range tap.Messages() {
			n += len(m)
		}
		Expect(n).To(BeNumerically("<=", 4096), "kept messages plus receptions in progress")
		Expect(n).To(BeNumerically(">", 4096-64), "it kept data up to its bound")
		Expect(tap.Frames()).To(Equal(50000))
	})
})
