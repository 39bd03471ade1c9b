package dbc

import (
	"fmt"
	"math"
	"strings"
	"text/scanner"
	"time"

	edbc "go.einride.tech/can/pkg/dbc"
	"go.einride.tech/can/pkg/descriptor"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// Attribute names read from the file.
const (
	AttrCycleTime  = "GenMsgCycleTime"
	AttrSendType   = "GenMsgSendType"
	AttrStartDelay = "GenMsgStartDelay"
	AttrStartValue = "GenSigStartValue"
	AttrFrameFmt   = "VFrameFormat"
)

// noNode is the DBC placeholder for "no transmitter".
const noNode = "Vector__XXX"

// Parse parses and checks the DBC text data; name is the file name used in
// errors.
func Parse(name string, data []byte) (db *Database, err error) {
	defer func() {
		// the parser is third-party code fed untrusted input: a panic in it
		// is a bad file, not a crash of the run
		if r := recover(); r != nil {
			db, err = nil, &Error{Pos: Pos{File: name}, Reason: fmt.Sprintf("unparseable: %v", r)}
		}
	}()
	p := edbc.NewParser(name, data)
	if perr := p.Parse(); perr != nil {
		return nil, &Error{Pos: pos(name, perr.Position()), Reason: perr.Reason()}
	}
	return compile(name, p.Defs())
}

func pos(name string, p scanner.Position) Pos {
	if p.Filename != "" {
		name = p.Filename
	}
	return Pos{File: name, Line: p.Line}
}

type attrs struct {
	defaults map[string]*edbc.AttributeDefaultValueDef
	types    map[string]*edbc.AttributeDef
	msg      map[uint32]map[string]*edbc.AttributeValueForObjectDef
	sig      map[uint32]map[string]map[string]*edbc.AttributeValueForObjectDef
}

// num returns the numeric value of attribute name on the message (or its
// default), and whether the file defines the attribute at all.
func (a *attrs) msgNum(id uint32, name string) (float64, bool) {
	if v, ok := a.msg[id][name]; ok {
		return a.value(name, v.IntValue, v.FloatValue), true
	}
	if d, ok := a.defaults[name]; ok {
		return a.value(name, d.DefaultIntValue, d.DefaultFloatValue), true
	}
	return 0, false
}

func (a *attrs) msgStr(id uint32, name string) (string, bool) {
	if v, ok := a.msg[id][name]; ok {
		return v.StringValue, true
	}
	if d, ok := a.defaults[name]; ok {
		return d.DefaultStringValue, true
	}
	return "", false
}

func (a *attrs) sigNum(id uint32, sig, name string) (float64, bool) {
	if v, ok := a.sig[id][sig][name]; ok {
		return a.value(name, v.IntValue, v.FloatValue), true
	}
	if d, ok := a.defaults[name]; ok {
		return a.value(name, d.DefaultIntValue, d.DefaultFloatValue), true
	}
	return 0, false
}

func (a *attrs) value(name string, i int64, f float64) float64 {
	if t, ok := a.types[name]; ok && t.Type == edbc.AttributeValueTypeFloat {
		return f
	}
	return float64(i)
}

func compile(name string, defs []edbc.Def) (*Database, error) {
	db := &Database{File: name, byName: map[string]*Message{}, byID: map[uint32]*Message{}}
	a := &attrs{
		defaults: map[string]*edbc.AttributeDefaultValueDef{},
		types:    map[string]*edbc.AttributeDef{},
		msg:      map[uint32]map[string]*edbc.AttributeValueForObjectDef{},
		sig:      map[uint32]map[string]map[string]*edbc.AttributeValueForObjectDef{},
	}
	vals := map[uint32]map[string]map[int64]string{}
	var msgDefs []*edbc.MessageDef
	for _, d := range defs {
		switch d := d.(type) {
		case *edbc.NodesDef:
			for _, n := range d.NodeNames {
				db.Nodes = append(db.Nodes, string(n))
			}
		case *edbc.MessageDef:
			if d.MessageID == 0xc0000000 { // VECTOR__INDEPENDENT_SIG_MSG
				continue
			}
			msgDefs = append(msgDefs, d)
		case *edbc.AttributeDef:
			a.types[string(d.Name)] = d
		case *edbc.AttributeDefaultValueDef:
			a.defaults[string(d.AttributeName)] = d
		case *edbc.AttributeValueForObjectDef:
			id := uint32(d.MessageID)
			switch d.ObjectType {
			case edbc.ObjectTypeMessage:
				if a.msg[id] == nil {
					a.msg[id] = map[string]*edbc.AttributeValueForObjectDef{}
				}
				a.msg[id][string(d.AttributeName)] = d
			case edbc.ObjectTypeSignal:
				if a.sig[id] == nil {
					a.sig[id] = map[string]map[string]*edbc.AttributeValueForObjectDef{}
				}
				s := string(d.SignalName)
				if a.sig[id][s] == nil {
					a.sig[id][s] = map[string]*edbc.AttributeValueForObjectDef{}
				}
				a.sig[id][s][string(d.AttributeName)] = d
			}
		case *edbc.ValueDescriptionsDef:
			if d.ObjectType != edbc.ObjectTypeSignal {
				continue
			}
			id := uint32(d.MessageID)
			if vals[id] == nil {
				vals[id] = map[string]map[int64]string{}
			}
			m := map[int64]string{}
			for _, v := range d.ValueDescriptions {
				m[int64(v.Value)] = v.Description
			}
			vals[id][string(d.SignalName)] = m
		}
	}
	nodes := map[string]bool{}
	for _, n := range db.Nodes {
		nodes[n] = true
	}
	for _, d := range msgDefs {
		m, err := compileMessage(name, d, a, vals[uint32(d.MessageID)], nodes)
		if err != nil {
			return nil, err
		}
		if prev, dup := db.byName[m.Name]; dup {
			return nil, &Error{Pos: m.Pos, Reason: fmt.Sprintf("message %s defined twice (first at line %d)", m.Name, prev.Pos.Line)}
		}
		k := idKey(m.ID, m.Extended)
		if prev, dup := db.byID[k]; dup {
			return nil, &Error{Pos: m.Pos, Reason: fmt.Sprintf("message %s has the identifier %#x of message %s (line %d)", m.Name, m.ID, prev.Name, prev.Pos.Line)}
		}
		db.byName[m.Name] = m
		db.byID[k] = m
		db.Messages = append(db.Messages, m)
	}
	return db, nil
}

func compileMessage(file string, d *edbc.MessageDef, a *attrs, vals map[string]map[int64]string, nodes map[string]bool) (*Message, error) {
	id := uint32(d.MessageID)
	m := &Message{
		Name:     string(d.Name),
		ID:       d.MessageID.ToCAN(),
		Extended: d.MessageID.IsExtended(),
		Size:     int(d.Size),
		Sender:   string(d.Transmitter),
		Pos:      pos(file, d.Pos),
	}
	bad := func(format string, args ...any) error {
		return &Error{Pos: m.Pos, Reason: fmt.Sprintf("message %s: ", m.Name) + fmt.Sprintf(format, args...)}
	}
	if m.Sender == noNode {
		m.Sender = ""
	} else if !nodes[m.Sender] {
		return nil, bad("sender %s is not a node of the file (BU_)", m.Sender)
	}
	if f, ok := a.msgStr(id, AttrFrameFmt); ok && strings.Contains(f, "CAN_FD") {
		m.FD = true
	}
	switch {
	case d.Size > can.MaxFDLen:
		return nil, bad("%d bytes: a CAN FD frame carries at most %d", d.Size, can.MaxFDLen)
	case d.Size > can.MaxClassicLen:
		m.FD = true
	}
	if m.FD && !can.ValidFDLen(m.Size) {
		return nil, bad("%d bytes is not a CAN FD data length (0-8, 12, 16, 20, 24, 32, 48, 64)", m.Size)
	}
	cycle, hasCycle := a.msgNum(id, AttrCycleTime)
	if cycle < 0 || cycle > math.MaxInt32 {
		return nil, bad("%s %v ms is out of range", AttrCycleTime, cycle)
	}
	m.Cycle = time.Duration(cycle * float64(time.Millisecond))
	if delay, ok := a.msgNum(id, AttrStartDelay); ok {
		if delay < 0 || delay > math.MaxInt32 {
			return nil, bad("%s %v ms is out of range", AttrStartDelay, delay)
		}
		m.StartDelay = time.Duration(delay * float64(time.Millisecond))
	}
	st, hasST := a.msgStr(id, AttrSendType)
	switch {
	case hasST && strings.HasPrefix(strings.ToLower(st), "cyclic"):
		m.SendType = SendCyclic
	case hasST:
		m.SendType = SendOnRequest
	case hasCycle && m.Cycle > 0:
		m.SendType = SendCyclic
	}
	if m.SendType == SendCyclic && m.Cycle <= 0 {
		return nil, bad("send type %q is cyclic but %s is 0", st, AttrCycleTime)
	}
	if m.Size == 0 && len(d.Signals) > 0 {
		return nil, bad("0 bytes long but has signals")
	}
	var used [can.MaxFDLen * 8]string
	for i := range d.Signals {
		s, err := compileSignal(file, m, &d.Signals[i], a, vals)
		if err != nil {
			return nil, err
		}
		for _, b := range s.bits() {
			if used[b] != "" {
				return nil, &Error{Pos: s.Pos, Reason: fmt.Sprintf("message %s: signal %s overlaps signal %s (bit %d)", m.Name, s.Name, used[b], b)}
			}
			used[b] = s.Name
		}
		if _, dup := m.Signal(s.Name); dup {
			return nil, &Error{Pos: s.Pos, Reason: fmt.Sprintf("message %s: signal %s defined twice", m.Name, s.Name)}
		}
		m.Signals = append(m.Signals, s)
	}
	if !m.FD {
		m.desc = &descriptor.Message{Name: m.Name, ID: m.ID, IsExtended: m.Extended, Length: uint8(m.Size), SenderNode: m.Sender, CycleTime: m.Cycle, DelayTime: m.StartDelay}
		for _, s := range m.Signals {
			s.desc = &descriptor.Signal{Name: s.Name, Start: uint8(s.Start), Length: uint8(s.Length), IsBigEndian: s.BigEndian, IsSigned: s.Signed, Offset: s.Offset, Scale: s.Factor, Min: s.Min, Max: s.Max, Unit: s.Unit}
			m.desc.Signals = append(m.desc.Signals, s.desc)
		}
	}
	return m, nil
}

func compileSignal(file string, m *Message, d *edbc.SignalDef, a *attrs, vals map[string]map[int64]string) (*Signal, error) {
	s := &Signal{
		Name: string(d.Name), Start: int(min(d.StartBit, 1<<20)), Length: int(min(d.Size, 1<<20)),
		BigEndian: d.IsBigEndian, Signed: d.IsSigned,
		Factor: d.Factor, Offset: d.Offset, Min: d.Minimum, Max: d.Maximum, Unit: d.Unit,
		Values: vals[string(d.Name)], Pos: pos(file, d.Pos),
	}
	bad := func(format string, args ...any) error {
		return &Error{Pos: s.Pos, Reason: fmt.Sprintf("message %s: signal %s: ", m.Name, s.Name) + fmt.Sprintf(format, args...)}
	}
	switch {
	case d.IsMultiplexed || d.IsMultiplexerSwitch:
		return nil, bad("multiplexed signals are not supported")
	case s.Length < 1 || s.Length > 64:
		return nil, bad("%d bits: a signal has 1 to 64", s.Length)
	case s.Factor == 0 || math.IsNaN(s.Factor) || math.IsInf(s.Factor, 0):
		return nil, bad("factor %v: must be a non-zero number", s.Factor)
	case math.IsNaN(s.Offset) || math.IsInf(s.Offset, 0):
		return nil, bad("offset %v is not a number", s.Offset)
	}
	if !s.fits(m.Size) {
		return nil, bad("start bit %d, %d bits (%s) do not fit in %d bytes", s.Start, s.Length, s.order(), m.Size)
	}
	if v, ok := a.sigNum(uint32(m.idFlagged()), s.Name, AttrStartValue); ok {
		if math.IsNaN(v) || v < -(1<<63) || v >= 1<<64 {
			return nil, bad("%s %v is out of range", AttrStartValue, v)
		}
		s.StartValue = int64(v)
		if v >= 1<<63 {
			s.StartValue = int64(uint64(v))
		}
		if err := s.checkRaw(s.StartValue); err != nil {
			return nil, bad("%s: %v", AttrStartValue, err)
		}
	}
	return s, nil
}

// idFlagged is the DBC form of the identifier (bit 31 set for extended).
func (m *Message) idFlagged() uint32 { return idKey(m.ID, m.Extended) }

func (s *Signal) order() string {
	if s.BigEndian {
		return "Motorola"
	}
	return "Intel"
}
