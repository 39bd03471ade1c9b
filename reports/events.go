package reports

import (
	"time"

	"github.com/uptane-hil/uptane-hil/sim/events"
)

// SequenceFromEvents turns a run's event stream into its message sequence,
// times in milliseconds since start (events before start count as 0):
//
//   - HTTP and UDS exchanges become arrows from the sender to the receiver;
//     the event's error becomes the entry's fault;
//   - attacks become attack entries (on the attacker's lifeline, or an
//     arrow to the target when the event names one);
//   - phases, notes and results become notes on the lifeline of the ECU
//     concerned (a phase "for" a Secondary is labelled with it);
//   - transfer progress is left out (it is a bar in the CLI, not a message).
//
// A zero start means the time of the first event with a time.
func SequenceFromEvents(start time.Time, evs []events.Event) []Message {
	if start.IsZero() {
		for _, e := range evs {
			if !e.Time.IsZero() {
				start = e.Time
				break
			}
		}
	}
	out := make([]Message, 0, len(evs))
	for _, e := range evs {
		t := 0.0
		if !e.Time.IsZero() && e.Time.After(start) {
			t = Ms(e.Time.Sub(start))
		}
		m := Message{T: t, From: e.From, To: e.To, Label: e.Label, Fault: e.Err}
		switch e.Kind {
		case events.HTTP:
			m.Kind = KindHTTP
		case events.UDS:
			m.Kind = KindUDS
		case events.Attack:
			m.Kind = KindAttack
			if m.From == "" {
				m.From = Attacker
			}
		case events.Phase:
			m.Kind, m.To = KindNote, ""
			if e.To != "" && e.To != e.From {
				m.Label += " (" + e.To + ")"
			}
		case events.Note, events.Result:
			m.Kind = KindNote
			if m.From == "" {
				m.From = e.ECU
			}
			m.To = ""
			if e.Kind == events.Result && e.ECU != "" {
				m.Label = e.ECU + ": " + m.Label
			}
		default: // transfer progress and kinds added later
			continue
		}
		if (m.Kind == KindHTTP || m.Kind == KindUDS) && (m.From == "" || m.To == "") {
			m.Kind = KindNote
		}
		out = append(out, m)
	}
	return out
}

// LoadFrom converts a load series given as window starts and loads (0..1)
// into the report's samples.
func LoadFrom(start time.Time, at []time.Time, load []float64) []LoadSample {
	out := make([]LoadSample, 0, len(at))
	for i := range at {
		if i >= len(load) {
			break
		}
		t := 0.0
		if at[i].After(start) {
			t = Ms(at[i].Sub(start))
		}
		p := load[i] * 100
		p = min(max(p, 0), 100)
		out = append(out, LoadSample{T: t, LoadPct: p})
	}
	return out
}
