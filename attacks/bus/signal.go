package bus

import (
	"fmt"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
	"github.com/uptane-hil/uptane-hil/sim/restbus"
)

// SignalSpoof is what a signal spoofer says: one signal of one DBC message
// at the attacker's raw value, with the message's checksums recomputed.
type SignalSpoof struct {
	Message *dbc.Message
	Signal  *dbc.Signal
	Raw     int64
	// Checksums are the message's checksum rules (the rig's): a CRC or an
	// XOR protects against corruption, not forgery — its algorithm is no
	// secret, so the attacker recomputes it.
	Checksums []restbus.ChecksumRule
}

// SpoofStats is what the spoofer saw and did.
type SpoofStats struct {
	Genuine int // frames of the message from other nodes
	Spoofed int // copies it sent with its value
}

// SignalSpoofer is a node that answers every frame of one message with a
// copy of its own in which one signal holds the attacker's value: the same
// alive counter, the checksum recomputed, sent right after the genuine
// frame, so a receiver that keeps the last value it read holds the
// attacker's. A receiver that checks the alive counter (AUTOSAR E2E) sees
// each counter value twice and the message at twice its cycle rate; which
// of the two frames is genuine, nothing on a CAN frame tells it (no sender,
// no authentication: that is AUTOSAR SecOC's MAC, not a checksum).
type SignalSpoofer struct {
	clk  clock.Clock
	node can.Node
	sp   SignalSpoof
	cs   []checksumAt
	mu   sync.Mutex
	st   SpoofStats
}

type checksumAt struct {
	byte int
	alg  restbus.Algorithm
}

// StartSignalSpoof attaches the spoofer to b and answers on an actor of clk
// until Stop.
func StartSignalSpoof(b can.Bus, clk clock.Clock, name string, sp SignalSpoof) (*SignalSpoofer, error) {
	m := sp.Message
	s := &SignalSpoofer{clk: clk, sp: sp}
	for _, c := range sp.Checksums {
		sig, ok := m.Signal(c.Signal)
		if !ok || c.Message != m.Name || sig.Length != 8 || sig.Start%8 != 0 || sig.BigEndian {
			return nil, fmt.Errorf("bus: spoof %s: checksum %s is not a byte-aligned 8-bit signal of the message", m.Name, c.Signal)
		}
		s.cs = append(s.cs, checksumAt{byte: sig.Start / 8, alg: c.Algorithm})
	}
	node, err := b.Attach(name, can.Exact(m.ID, m.Extended))
	if err != nil {
		return nil, fmt.Errorf("bus: attacker node on %s: %w", b.Name(), err)
	}
	s.node = node
	clk.Go(name, s.run)
	return s, nil
}

func (s *SignalSpoofer) run() {
	m := s.sp.Message
	for {
		fr, err := s.node.Recv(clock.Forever)
		if err != nil {
			return // stopped
		}
		if fr.FD != m.FD || int(fr.Len) < m.Size {
			continue
		}
		s.mu.Lock()
		s.st.Genuine++
		s.mu.Unlock()
		d := fr.Payload()
		s.sp.Signal.SetRaw(d, s.sp.Raw)
		for _, c := range s.cs {
			rest := append(append([]byte{}, d[:c.byte]...), d[c.byte+1:]...)
			d[c.byte] = restbus.Checksum(c.alg, rest)
		}
		if s.node.Send(fr) != nil {
			return
		}
		s.mu.Lock()
		s.st.Spoofed++
		s.mu.Unlock()
	}
}

// Stop takes the spoofer off the bus and returns what it did.
func (s *SignalSpoofer) Stop() SpoofStats {
	s.node.Close()
	return s.Stats()
}

// Stats returns what the spoofer did so far.
func (s *SignalSpoofer) Stats() SpoofStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}
