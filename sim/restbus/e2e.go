package restbus

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

// E2E is a receiver's end-to-end check of one message, after AUTOSAR E2E
// (profiles 1 and 2: an alive counter and a CRC in the frame): each frame's
// checksum must match its bytes, and its alive counter must have moved on
// from the last accepted frame's, by at most half its range (more is a
// counter that went back). A frame that fails is discarded (its value is
// not taken) and the signal is invalid until MinOK frames in a row pass:
// a receiver of a message that an attacker answers with copies (the same
// counter, the checksum recomputed: spoof-signal) sees every counter value
// twice and never gets MinOK good frames in a row while the spoofer is on.
// It cannot tell which frame of a pair is genuine; it can refuse to act on
// the signal. The counter and checksum rules are the bus's (the rig's
// restbus counters and checksums: the sender's, from the communication
// matrix).
type E2E struct {
	msg      *dbc.Message
	counter  counter
	sum      *checksum
	name     string // counter signal, for messages
	sumName  string
	minOK    int
	halfMod  int64
	modulo   int64
	describe string
}

// E2EMinOK is how many good frames in a row make a signal valid again
// after an E2E error (and valid at first): two, so that one frame that
// passes between two that fail (a genuine frame between two copies) is
// not enough.
const E2EMinOK = 2

// NewE2E compiles the end-to-end check of message m from its counter rule
// and, when sum is not nil, its checksum rule.
func NewE2E(m *dbc.Message, c CounterRule, sum *ChecksumRule) (*E2E, error) {
	if c.Message != m.Name {
		return nil, fmt.Errorf("restbus: e2e of %s: the counter rule is for message %s", m.Name, c.Message)
	}
	cc, err := compileCounter(m, c)
	if err != nil {
		return nil, err
	}
	e := &E2E{msg: m, counter: cc, name: c.Signal, minOK: E2EMinOK, modulo: cc.modulo, halfMod: cc.modulo / 2}
	e.describe = fmt.Sprintf("alive counter %s", c.Signal)
	if sum != nil {
		if sum.Message != m.Name {
			return nil, fmt.Errorf("restbus: e2e of %s: the checksum rule is for message %s", m.Name, sum.Message)
		}
		cs, err := compileChecksum(m, *sum)
		if err != nil {
			return nil, err
		}
		e.sum, e.sumName = &cs, sum.Signal
		e.describe += fmt.Sprintf(", %s %s", sum.Algorithm, sum.Signal)
	}
	return e, nil
}

// String says what the check reads, for an ECU's log.
func (e *E2E) String() string { return "end-to-end check (" + e.describe + ")" }

// e2eState is a receiver's state of one E2E check.
type e2eState struct {
	counter int64 // of the last accepted frame
	have    bool  // a frame was accepted since the start (or since stale)
	okRun   int   // good frames in a row
	errors  int   // frames that failed, ever
	last    string
}

// judge checks a frame's data against the state: "" when it passes, else
// what is wrong with it. It updates the state.
func (e *E2E) judge(st *e2eState, data []byte, fresh bool) string {
	if fresh {
		st.have, st.okRun, st.last = false, 0, ""
	}
	bad := ""
	if e.sum != nil && e.sum.byte < len(data) {
		cover := make([]byte, 0, len(data))
		cover = append(cover, data[:e.sum.byte]...)
		cover = append(cover, data[e.sum.byte+1:]...)
		if want := Checksum(e.sum.alg, cover); data[e.sum.byte] != want {
			bad = fmt.Sprintf("%s 0x%02x is wrong (0x%02x over the frame's bytes)", e.sumName, data[e.sum.byte], want)
		}
	}
	n := int64(0)
	if bad == "" {
		n = e.msg.Signals[e.counter.idx].Raw(data)
		if st.have {
			switch d := ((n-st.counter)%e.modulo + e.modulo) % e.modulo; {
			case d == 0:
				bad = fmt.Sprintf("%s %d repeated", e.name, n)
			case d > e.halfMod:
				bad = fmt.Sprintf("%s went back from %d to %d", e.name, st.counter, n)
			}
		}
	}
	if bad != "" {
		st.okRun = 0
		st.errors++
		st.last = bad
		return bad
	}
	st.counter, st.have = n, true
	st.okRun++
	return ""
}

// valid reports whether the signal may be used: MinOK good frames in a row.
func (e *E2E) valid(st *e2eState) bool { return st.okRun >= e.minOK }

// invalid says why the signal is not valid, for DID 0xF1A9 and the log.
func (e *E2E) invalid(st *e2eState) string {
	if st.errors == 0 || st.last == "" {
		return fmt.Sprintf("not valid yet: its %s passed %d frame(s) in a row, it wants %d", e, st.okRun, e.minOK)
	}
	return fmt.Sprintf("invalid: its %s failed %d frame(s), the last: %s (it wants %d good frames in a row)", e, st.errors, st.last, e.minOK)
}
