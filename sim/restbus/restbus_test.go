package restbus_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
	"github.com/uptane-hil/uptane-hil/sim/vbus"
)

func load(file string) *dbc.Database {
	GinkgoHelper()
	db, err := dbc.Load("../../rigs/dbc/" + file)
	Expect(err).NotTo(HaveOccurred())
	return db
}

// ptConfig simulates every powertrain node but the rig's ECUs, with the
// counters and checksums of the project's rigs.
func ptConfig() restbus.Config {
	GinkgoHelper()
	return restbus.Config{
		DB:    load("powertrain.dbc"),
		Nodes: []string{"ESC", "SAS", "TCM", "EPS", "BMS", "PDM", "GW", "ACU"},
		Counters: []restbus.CounterRule{
			{Message: "ESC_WheelSpeeds", Signal: "ESC_WheelSpeeds_Alive"},
			{Message: "TCM_Gear", Signal: "TCM_Gear_Alive"},
			{Message: "GW_IgnitionStatus", Signal: "GW_Ignition_Alive", Modulo: 15},
		},
		Checksums: []restbus.ChecksumRule{
			{Message: "ESC_WheelSpeeds", Signal: "ESC_WheelSpeeds_CRC", Algorithm: restbus.CRC8J1850},
			{Message: "GW_IgnitionStatus", Signal: "GW_Ignition_CRC", Algorithm: restbus.CRC8J1850},
			{Message: "TCM_Gear", Signal: "TCM_Gear_XOR", Algorithm: restbus.XOR},
		},
	}
}

type seen struct {
	at     time.Duration
	f      can.Frame
	sender string
}

// record runs cfg's rest-bus on a fresh bus (bus config given) for d of
// simulated time and returns every frame on the wire, and the bus stats.
func record(cfg restbus.Config, bcfg vbus.Config, d time.Duration, during func(clk clock.Clock, b *vbus.Bus, rb *restbus.Restbus)) ([]seen, vbus.Stats, *restbus.Restbus) {
	GinkgoHelper()
	clk := clock.NewSim(time.Time{})
	clk.SetHorizon(time.Hour)
	var out []seen
	var st vbus.Stats
	var rb *restbus.Restbus
	Expect(clk.Run("root", func() {
		bcfg.Clock = clk
		b := vbus.New(bcfg)
		b.Tap(func(ev can.Event) { out = append(out, seen{ev.Time.Sub(clock.Epoch), ev.Frame, ev.Sender}) })
		var err error
		rb, err = restbus.New(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(rb.Start(clk, b)).To(Succeed())
		if during != nil {
			during(clk, b, rb)
		}
		clk.Sleep(d - clk.Elapsed())
		st = b.Stats()
		rb.Stop()
	})).To(Succeed())
	return out, st, rb
}

var _ = Describe("the rest-bus", func() {
	It("sends every cyclic message at StartDelay + k·cycle, exactly, on the simulated clock", func() {
		cfg := ptConfig()
		frames, _, rb := record(cfg, vbus.Config{Name: "pt"}, 2*time.Second, nil) // untimed: on the wire when sent
		byID := map[uint32][]time.Duration{}
		for _, s := range frames {
			byID[s.f.ID] = append(byID[s.f.ID], s.at)
		}
		msgs := rb.Messages()
		Expect(msgs).To(HaveLen(18))
		for _, m := range msgs {
			ts := byID[m.ID]
			Expect(ts).To(HaveLen(int((2*time.Second-m.StartDelay-1)/m.Cycle)+1), m.Name)
			for k, at := range ts {
				Expect(at).To(Equal(m.StartDelay+time.Duration(k)*m.Cycle), "%s frame %d", m.Name, k)
			}
		}
		_, sent := byID[0x300]
		Expect(sent).To(BeFalse(), "GW_CrashEvent is sent on request only")
	})

	It("loads a timed bus as computed from the DBC (wire bits incl. stuffing × rate) within 1 %", func() {
		for _, c := range []struct {
			cfg  restbus.Config
			bus  vbus.Config
			name string
		}{
			{ptConfig(), vbus.Config{Name: "pt", Bitrate: 500000}, "classic 500k"},
			{restbus.Config{DB: load("body.dbc"), Nodes: []string{"GW", "CLU", "DCM", "SCM", "HVAC", "ADAS", "LGT"}, FD: true},
				vbus.Config{Name: "body", FD: true, Bitrate: 500000, DataBitrate: 2000000}, "FD 500k/2M"},
		} {
			_, st, rb := record(c.cfg, c.bus, 10*time.Second, nil)
			want := rb.Load(c.bus.Bitrate, c.bus.DataBitrate)
			Expect(want).To(BeNumerically(">", 0.03), c.name)
			Expect(st.Load).To(BeNumerically("~", want, want*0.01), c.name)
			GinkgoWriter.Printf("%s: computed %.4f, measured %.4f, %d frames\n", c.name, want, st.Load, st.Frames)
		}
	})

	It("rolls counters and computes checksums by their algorithms", func() {
		Expect(restbus.Checksum(restbus.CRC8J1850, []byte("123456789"))).To(Equal(byte(0x4B)), "the CRC-8 SAE J1850 check value")
		Expect(restbus.Checksum(restbus.XOR, []byte{0x01, 0x02, 0x04, 0xF0})).To(Equal(byte(0xF7)))
		cfg := ptConfig()
		frames, _, _ := record(cfg, vbus.Config{Name: "pt", Bitrate: 500000}, time.Second, nil)
		var esc, ign, gear []can.Frame
		for _, s := range frames {
			switch s.f.ID {
			case 0x0A0:
				esc = append(esc, s.f)
			case 0x100:
				ign = append(ign, s.f)
			case 0x0C0:
				gear = append(gear, s.f)
			}
		}
		Expect(esc).To(HaveLen(100))
		for k, f := range esc {
			Expect(f.Data[1]&0x0f).To(Equal(byte(k%16)), "alive counter of frame %d", k)
			Expect(f.Data[0]).To(Equal(crc8j1850(f.Data[1:8])), "CRC of frame %d", k)
		}
		for k, f := range ign {
			Expect(f.Data[1]&0x0f).To(Equal(byte(k%15)), "modulo-15 counter of frame %d", k)
			Expect(f.Data[0]).To(Equal(crc8j1850(f.Data[1:8])))
		}
		for k, f := range gear {
			Expect(f.Data[6] & 0x0f).To(Equal(byte(k % 16)))
			Expect(f.Data[7]).To(Equal(f.Data[0] ^ f.Data[1] ^ f.Data[2] ^ f.Data[3] ^ f.Data[4] ^ f.Data[5] ^ f.Data[6]))
		}
		Expect(ign[0].Data[1]>>4&0x07).To(Equal(byte(2)), "IgnitionState starts ON")
	})

	It("replays the same frames at the same times from the same configuration", func() {
		a, _, _ := record(ptConfig(), vbus.Config{Name: "pt", Bitrate: 500000}, 300*time.Millisecond, nil)
		b, _, _ := record(ptConfig(), vbus.Config{Name: "pt", Bitrate: 500000}, 300*time.Millisecond, nil)
		Expect(len(a)).To(BeNumerically(">", 100))
		Expect(a).To(Equal(b))
	})

	It("sends a signal's new value from the moment Set changes it", func() {
		frames, _, _ := record(ptConfig(), vbus.Config{Name: "pt"}, 200*time.Millisecond, func(clk clock.Clock, _ *vbus.Bus, rb *restbus.Restbus) {
			clk.Sleep(105 * time.Millisecond)
			Expect(rb.Set("ESC_WheelSpeeds", "VehicleSpeed", 5000)).To(Succeed())
			Expect(rb.Value("ESC_WheelSpeeds", "VehicleSpeed")).To(Equal(int64(5000)))
		})
		db := load("powertrain.dbc")
		m, _ := db.Message("ESC_WheelSpeeds")
		i, _ := m.Index("VehicleSpeed")
		for _, s := range frames {
			if s.f.ID != m.ID {
				continue
			}
			want := int64(0)
			if s.at > 105*time.Millisecond {
				want = 5000
			}
			Expect(m.Decode(&s.f)[i]).To(Equal(want), "at %s", s.at)
		}
	})

	It("refuses bad configurations before sending anything", func() {
		base := ptConfig()
		bad := func(mut func(c *restbus.Config), want string) {
			GinkgoHelper()
			c := base
			mut(&c)
			_, err := restbus.New(c)
			Expect(err).To(MatchError(ContainSubstring(want)))
		}
		bad(func(c *restbus.Config) {
			c.Reserved = []restbus.Reserved{{ID: 0x118, What: "ISO-TP request of ECM-0001"}}
		}, "message PDM_BatteryStatus (sent by PDM) has identifier 0x118, the ISO-TP request of ECM-0001")
		bad(func(c *restbus.Config) { c.Nodes = []string{"XYZ"} }, `declares no node "XYZ"`)
		bad(func(c *restbus.Config) {
			c.Counters = []restbus.CounterRule{{Message: "ESC_WheelSpeeds", Signal: "Nope"}}
		}, `message ESC_WheelSpeeds has no signal "Nope"`)
		bad(func(c *restbus.Config) { c.Nodes = []string{"ESC"} }, "TCM_Gear, which no simulated node sends")
		bad(func(c *restbus.Config) {
			c.Checksums = []restbus.ChecksumRule{{Message: "ESC_WheelSpeeds", Signal: "VehicleSpeed", Algorithm: restbus.XOR}}
		}, "must be 8 unsigned bits filling one byte")
		bad(func(c *restbus.Config) {
			c.Checksums = []restbus.ChecksumRule{{Message: "ESC_WheelSpeeds", Signal: "ESC_WheelSpeeds_CRC", Algorithm: "md5"}}
		}, `unknown algorithm "md5"`)
		bad(func(c *restbus.Config) {
			c.Counters = []restbus.CounterRule{{Message: "ESC_WheelSpeeds", Signal: "ESC_WheelSpeeds_Alive", Modulo: 17}}
		}, "modulo 17 must be 2 to 16")
		_, err := restbus.New(restbus.Config{DB: load("body.dbc"), Nodes: []string{"ADAS"}})
		Expect(err).To(MatchError(ContainSubstring("message ADAS_ObjectList is CAN FD but the bus is classic CAN")))
	})
})

// crc8j1850 is an independent bitwise CRC-8 SAE J1850 (poly 0x1D, init and
// final XOR 0xFF), MSB first.
func crc8j1850(data []byte) byte {
	var reg uint16 = 0xff
	for _, b := range data {
		for i := 7; i >= 0; i-- {
			in := uint16(b>>i) & 1
			top := reg >> 7 & 1
			reg = reg << 1 & 0xff
			if top^in != 0 {
				reg ^= 0x1d
			}
		}
	}
	return byte(reg) ^ 0xff
}

var _ = Describe("network sleep (SleepAfter)", func() {
	It("stops sending once only the rest-bus talks for SleepAfter, and wakes on another node's frame", func() {
		cfg := ptConfig()
		cfg.SleepAfter = 500 * time.Millisecond
		frames, _, _ := record(cfg, vbus.Config{Name: "pt"}, 3*time.Second, func(clk clock.Clock, b *vbus.Bus, rb *restbus.Restbus) {
			clk.Sleep(2 * time.Second)
			awake, wakeups := rb.Awake()
			Expect(awake).To(BeFalse())
			Expect(wakeups).To(BeZero())
			tester, err := b.Attach("tester")
			Expect(err).NotTo(HaveOccurred())
			Expect(tester.Send(can.New(0x7E0, []byte{0x02, 0x10, 0x02}))).To(Succeed()) // a diagnostic request wakes the network
			awake, wakeups = rb.Awake()
			Expect(awake).To(BeTrue())
			Expect(wakeups).To(Equal(1))
		})
		var lastBefore time.Duration
		var esc []time.Duration
		for _, s := range frames {
			if s.at < 2*time.Second {
				lastBefore = max(lastBefore, s.at)
			}
			if s.f.ID == 0x0A0 && s.at >= 2*time.Second {
				esc = append(esc, s.at)
			}
		}
		Expect(lastBefore).To(BeNumerically(">=", 490*time.Millisecond))
		Expect(lastBefore).To(BeNumerically("<", 500*time.Millisecond), "asleep from the moment the timeout ends")
		// awake again from 2 s, asleep 500 ms after the request
		Expect(esc[0]).To(Equal(2 * time.Second))
		Expect(esc).To(HaveLen(50))
		Expect(esc[49]).To(Equal(2490 * time.Millisecond))
	})
})
