package primary

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// Defaults of the wait for a Secondary's programming preconditions.
const (
	// DefaultConditionsWait bounds the wait for one Secondary in one
	// cycle (Config.ConditionsWait).
	DefaultConditionsWait = 2 * time.Minute
	// DefaultConditionsPoll is how often the Primary asks again
	// (Config.ConditionsPoll).
	DefaultConditionsPoll = time.Second
)

// Refusal is a Secondary's refusal to be programmed in this cycle: it
// answered a step of its update with NRC 0x22 conditionsNotCorrect (its
// preconditions on the vehicle's state, docs/restbus.md), and what the
// Primary did about it. The cycle's final vehicle manifest carries it to
// the Director (manifest.Refusal).
type Refusal struct {
	// Step is the last step the ECU refused ("send metadata", "verify
	// metadata", "send image", "install").
	Step string
	// Conditions are the ECU's words on what did not hold, when last asked
	// (pouf DID 0xF1A9); "" when it did not say.
	Conditions string
	// Refusals counts the refused requests; Waited is the time the Primary
	// spent waiting for the conditions.
	Refusals int
	Waited   time.Duration
	// Resumed: the conditions came to hold within the wait and the update
	// went on from where it stopped (a transfer resumes at the position the
	// ECU kept).
	Resumed bool
}

// ConditionsError is a Secondary whose programming preconditions did not
// come to hold within Config.ConditionsWait: its update waits for the next
// cycle (the Director keeps the assignment).
type ConditionsError struct {
	ECU        string
	Step       string
	Conditions string
	Waited     time.Duration
	Err        error // the last refusal
}

func (e *ConditionsError) Error() string {
	what := e.Conditions
	if what == "" {
		what = "the ECU did not say which"
	}
	return fmt.Sprintf("primary: %s refused %s (NRC 0x22 conditionsNotCorrect) for %s, the longest the Primary waits: its programming preconditions do not hold (%s); its update waits for the next cycle: %v",
		e.ECU, e.Step, e.Waited, what, e.Err)
}

func (e *ConditionsError) Unwrap() error { return e.Err }

// conditionsWait is the wait budget of one Secondary in one cycle.
type conditionsWait struct {
	s SecondaryConfig
	o *ECUOutcome
}

// whenConditionsHold runs op, a step of the Secondary's update. While the
// ECU refuses it with NRC 0x22 conditionsNotCorrect, the Primary asks it
// which preconditions are unmet, reports that (an event now, the cycle's
// manifest later), waits ConditionsPoll and runs op again, until it
// succeeds or the waits of this ECU in this cycle add up to
// ConditionsWait (a *ConditionsError naming the ECU, the step and the
// unmet preconditions). A file transfer cut by a refusal resumes where the
// ECU stopped (pouf.Client keeps the cut).
func (p *Primary) whenConditionsHold(w conditionsWait, step string, op func() error) error {
	wait, poll := p.cfg.ConditionsWait, p.cfg.ConditionsPoll
	if wait <= 0 {
		wait = DefaultConditionsWait
	}
	if poll <= 0 {
		poll = DefaultConditionsPoll
	}
	refused := false // in this step
	for {
		err := op()
		r := w.o.Refusal
		if !uds.IsNRC(err, uds.ConditionsNotCorrect) {
			if err == nil && refused {
				r.Resumed = true
				p.emit(events.Event{Kind: events.Note, From: p.cfg.ID, To: w.s.ID, ECU: w.s.ID,
					Label: fmt.Sprintf("%s: conditions hold again after %s; %s resumes", w.s.ID, r.Waited, step)})
			}
			return err
		}
		if r == nil {
			r = &Refusal{}
			w.o.Refusal = r
		}
		r.Step, r.Refusals, r.Resumed = step, r.Refusals+1, false
		r.Conditions = p.unmetConditions(w.s)
		if !refused {
			refused = true
			what := r.Conditions
			if what == "" {
				what = "which, it did not say"
			}
			p.emit(events.Event{Kind: events.Note, From: w.s.ID, To: p.cfg.ID, ECU: w.s.ID,
				Label: fmt.Sprintf("%s refuses %s: NRC 0x22 conditionsNotCorrect (%s); waiting", w.s.ID, step, what)})
		}
		if r.Waited >= wait {
			return &ConditionsError{ECU: w.s.ID, Step: step, Conditions: r.Conditions, Waited: r.Waited, Err: err}
		}
		d := min(poll, wait-r.Waited)
		p.cfg.Clock.Sleep(d)
		r.Waited += d
	}
}

// unmetConditions asks the Secondary which of its programming
// preconditions do not hold ("" when it cannot say).
func (p *Primary) unmetConditions(s SecondaryConfig) string {
	c, ok := s.Link.(link.Conditions)
	if !ok {
		return ""
	}
	what, err := c.UnmetConditions()
	if err != nil {
		return ""
	}
	return what
}

// refusals are the cycle's programming refusals, for the manifest.
func refusals(rep *CycleReport) []manifest.Refusal {
	var out []manifest.Refusal
	for _, id := range slices.Sorted(maps.Keys(rep.ECUs)) {
		r := rep.ECUs[id].Refusal
		if r == nil {
			continue
		}
		outcome := manifest.RefusalGaveUp
		if r.Resumed {
			outcome = manifest.RefusalResumed
		}
		out = append(out, manifest.Refusal{ECUSerial: id, Step: r.Step, NRC: uint8(uds.ConditionsNotCorrect),
			Conditions: truncate(r.Conditions, manifest.MaxString), WaitedMillis: r.Waited.Milliseconds(), Outcome: outcome})
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// retryUnlessConditions is retry, but a refusal for the vehicle's state
// (NRC 0x22) is returned at once: it is whenConditionsHold's to wait for.
func retryUnlessConditions(op func() error) error {
	var err error
	for i := 0; i < 3; i++ {
		if err = op(); err == nil || uds.IsNRC(err, uds.ConditionsNotCorrect) {
			return err
		}
	}
	return err
}
