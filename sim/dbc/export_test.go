package dbc

import "github.com/uptane-hil/uptane-hil/sim/can"

// PackOwn packs with the package's own layout even for classic messages.
func (m *Message) PackOwn(raw []int64) can.Frame { return m.pack(raw) }
