package bus_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/attacks/bus"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

var _ = Describe("an attacker speaking as the Primary (AsPrimary)", func() {
	session := bus.Session{Nonce: []byte("0123456789abcdef"), Time: time.Unix(1900000000, 0),
		Metadata: []bus.File{{Repo: "director", Name: "5.targets.json", Data: make([]byte, 3000)}, {Repo: "image", Name: "timestamp.json", Data: []byte("{}")}},
		Image:    bus.File{Name: "brk-v2/firmware-r2.bin", Data: make([]byte, 9000)}}

	It("plays an update cycle with the ECU: nonce, time, metadata, verify, image, verify, install, reset", func() {
		ecu := &fakeECU{}
		onBench(func(b *bench) {
			b.serve("BRK-1", ecu, uds.ServerConfig{})
			Expect(bus.AsPrimary(b.bus, b.sim, ch, "BRK-1", session)).To(Succeed())
		})
		Expect(ecu.log).To(Equal([]string{"nonce", "time", "meta/director/5.targets.json", "meta/image/timestamp.json",
			pouf.RoutineName(pouf.RoutineVerifyMetadata), "image/brk-v2/firmware-r2.bin", pouf.RoutineName(pouf.RoutineVerifyImage),
			pouf.RoutineName(pouf.RoutineInstall), "reset"}))
	})

	It("stops at the ECU's refusal and returns the check it names", func() {
		ecu := &fakeECU{fail: pouf.RoutineVerifyImage}
		onBench(func(b *bench) {
			b.serve("BRK-1", ecu, uds.ServerConfig{})
			err := bus.AsPrimary(b.bus, b.sim, ch, "BRK-1", session)
			Expect(check.Is(err, check.VerifyImageHashes)).To(BeTrue(), "%v", err)
		})
		Expect(ecu.log).NotTo(ContainElement(pouf.RoutineName(pouf.RoutineInstall)))
		Expect(ecu.log).NotTo(ContainElement("reset"))
	})
})
