package dbc_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// minimal builds a DBC text around message definitions and attribute lines.
func minimal(msgs, attrs string) string {
	return `VERSION ""
NS_ :
BS_:
BU_: A B
` + msgs + `
BA_DEF_ BO_ "GenMsgCycleTime" INT 0 10000;
BA_DEF_ BO_ "GenMsgSendType" ENUM "Cyclic","NoMsgSendType";
BA_DEF_ SG_ "GenSigStartValue" INT -2147483648 2147483647;
BA_DEF_DEF_ "GenMsgCycleTime" 0;
BA_DEF_DEF_ "GenMsgSendType" "NoMsgSendType";
BA_DEF_DEF_ "GenSigStartValue" 0;
` + attrs
}

func parseErr(text string) *dbc.Error {
	GinkgoHelper()
	_, err := dbc.Parse("test.dbc", []byte(text))
	Expect(err).To(HaveOccurred())
	Expect(errors.Is(err, dbc.ErrInvalid)).To(BeTrue(), "%v", err)
	var de *dbc.Error
	Expect(errors.As(err, &de)).To(BeTrue())
	return de
}

var _ = Describe("the project's DBC files", func() {
	for _, file := range []string{"../../rigs/dbc/powertrain.dbc", "../../rigs/dbc/body.dbc"} {
		It("load with a few dozen cyclic messages between 10 ms and 1 s ("+file+")", func() {
			db, err := dbc.Load(file)
			Expect(err).NotTo(HaveOccurred())
			cyclic := 0
			for _, m := range db.Messages {
				if m.SendType == dbc.SendCyclic {
					cyclic++
					Expect(m.Cycle).To(BeNumerically(">=", 10*time.Millisecond), m.Name)
					Expect(m.Cycle).To(BeNumerically("<=", time.Second), m.Name)
				}
				Expect(m.ID).To(BeNumerically("<", 0x700), "%s: 0x700-0x7FF are left to diagnostics", m.Name)
			}
			Expect(cyclic).To(BeNumerically(">=", 12))
		})
	}

	It("reads what a bench needs to update an ECU: speed, ignition, gear, battery voltage", func() {
		db, err := dbc.Load("../../rigs/dbc/powertrain.dbc")
		Expect(err).NotTo(HaveOccurred())
		for name, want := range map[string]string{"VehicleSpeed": "0", "IgnitionState": "2 (ON)", "GearSelected": "0 (P)", "BatteryVoltage": "12.6"} {
			_, s, err := db.FindSignal(name)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Format(s.StartValue)).To(Equal(want), name)
		}
		m, _ := db.Message("ESC_WheelSpeeds")
		Expect(m.Cycle).To(Equal(10 * time.Millisecond))
		_, s, _ := db.FindSignal("VehicleSpeed")
		Expect(s.Unit).To(Equal("km/h"))
		raw, err := s.ParseValue("50")
		Expect(err).NotTo(HaveOccurred())
		Expect(raw).To(Equal(int64(5000)))
		_, ign, _ := db.FindSignal("IgnitionState")
		Expect(ign.ParseValue("off")).To(Equal(int64(0)))
		_, err = ign.ParseValue("LOCKED")
		Expect(err).To(MatchError(ContainSubstring("ACC, OFF, ON, START")))
		_, err = s.ParseValue("700")
		Expect(err).To(MatchError(ContainSubstring("outside [0, 655.35]")))
	})

	It("marks CAN FD messages and packs their signals past byte 8", func() {
		db, err := dbc.Load("../../rigs/dbc/body.dbc")
		Expect(err).NotTo(HaveOccurred())
		m, ok := db.Message("ADAS_ObjectList")
		Expect(ok).To(BeTrue())
		Expect(m.FD).To(BeTrue())
		f := m.Frame(m.StartValues())
		Expect(f.FD).To(BeTrue())
		Expect(f.Len).To(Equal(uint8(64)))
		Expect(f.Validate()).To(Succeed())
		i, _ := m.Index("Obj6_Distance")
		Expect(m.Decode(&f)[i]).To(Equal(int64(4500)))
		Expect(m.Signals[i].Start).To(BeNumerically(">", 300))
	})
})

var _ = Describe("packing", func() {
	It("agrees with einride's descriptor on every classic message, Intel and Motorola, for random values", func() {
		r := rand.New(rand.NewPCG(1, 2))
		for _, file := range []string{"../../rigs/dbc/powertrain.dbc", "../../rigs/dbc/body.dbc"} {
			db, err := dbc.Load(file)
			Expect(err).NotTo(HaveOccurred())
			for _, m := range db.Messages {
				if m.FD {
					continue
				}
				for range 200 {
					raw := make([]int64, len(m.Signals))
					for i, s := range m.Signals {
						v := int64(r.Uint64() >> (64 - s.Length))
						if s.Signed && s.Length < 64 && v>>(s.Length-1) != 0 {
							v -= 1 << s.Length
						}
						raw[i] = v
					}
					ein, own := m.Frame(raw), m.PackOwn(raw)
					Expect(own).To(Equal(ein), "%s %v", m.Name, raw)
					Expect(m.Decode(&ein)).To(Equal(raw), m.Name)
				}
			}
		}
	})
})

var _ = Describe("bad DBC files", func() {
	It("names file, line and reason for a syntax error (einride's position)", func() {
		e := parseErr(minimal("BO_ 100 M: 8 A\n SG_ S : 0|8@1+ (1,0) [0|255] \"\" B\nBO_ 101 N 8 A\n", ""))
		Expect(e.Pos.File).To(Equal("test.dbc"))
		Expect(e.Pos.Line).To(Equal(7))
		Expect(e.Error()).To(HavePrefix("dbc: test.dbc:7: "))
	})

	It("refuses overlapping signals, naming both", func() {
		e := parseErr(minimal("BO_ 100 M: 8 A\n SG_ S : 0|8@1+ (1,0) [0|255] \"\" B\n SG_ T : 4|8@1+ (1,0) [0|255] \"\" B\n", ""))
		Expect(e.Reason).To(ContainSubstring("signal T overlaps signal S (bit 4)"))
		Expect(e.Pos.Line).To(Equal(7))
	})

	It("refuses overlapping Motorola signals", func() {
		e := parseErr(minimal("BO_ 100 M: 8 A\n SG_ S : 7|12@0+ (1,0) [0|0] \"\" B\n SG_ T : 13|4@0+ (1,0) [0|0] \"\" B\n", ""))
		Expect(e.Reason).To(ContainSubstring("overlaps"))
	})

	It("refuses a cyclic message with cycle time 0", func() {
		e := parseErr(minimal("BO_ 100 M: 8 A\n SG_ S : 0|8@1+ (1,0) [0|255] \"\" B\n", `BA_ "GenMsgSendType" BO_ 100 0;`+"\n"))
		Expect(e.Reason).To(ContainSubstring(`message M: send type "Cyclic" is cyclic but GenMsgCycleTime is 0`))
		Expect(e.Pos.Line).To(Equal(5))
	})

	It("refuses a signal outside its message, an unknown sender, a bad FD length, a start value that does not fit", func() {
		Expect(parseErr(minimal("BO_ 100 M: 2 A\n SG_ S : 12|8@1+ (1,0) [0|255] \"\" B\n", "")).Reason).To(ContainSubstring("do not fit in 2 bytes"))
		Expect(parseErr(minimal("BO_ 100 M: 2 Z\n", "")).Reason).To(ContainSubstring("sender Z is not a node"))
		Expect(parseErr(minimal("BO_ 100 M: 10 A\n", "")).Reason).To(ContainSubstring("not a CAN FD data length"))
		Expect(parseErr(minimal("BO_ 100 M: 2 A\n SG_ S : 0|4@1+ (1,0) [0|15] \"\" B\n", `BA_ "GenSigStartValue" SG_ 100 S 16;`+"\n")).Reason).To(ContainSubstring("does not fit in 4 bits"))
		Expect(parseErr(minimal("BO_ 100 M: 2 A\nBO_ 100 N: 2 A\n", "")).Reason).To(ContainSubstring("has the identifier 0x64 of message M"))
	})

	It("reports a missing file", func() {
		_, err := dbc.Load("does-not-exist.dbc")
		Expect(err).To(MatchError(ContainSubstring("does-not-exist.dbc")))
	})

	It("accepts a message without cycle time as sent on request", func() {
		db, err := dbc.Parse("t.dbc", []byte(minimal("BO_ 100 M: 8 A\n", "")))
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Messages[0].SendType).To(Equal(dbc.SendOnRequest))
		Expect(strings.Join(db.Nodes, " ")).To(Equal("A B"))
	})
})
