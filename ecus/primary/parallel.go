package primary

import (
	"fmt"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// busGroup is the Secondaries of one bus, in the order of the Primary's
// configuration.
type busGroup struct {
	bus         string
	secondaries []SecondaryConfig
}

// busGroups returns the Secondaries by bus, buses in the order their first
// Secondary appears in the configuration (a Secondary with no bus, reached
// directly, counts as the bus "").
func (p *Primary) busGroups() []busGroup {
	var out []busGroup
	at := map[string]int{}
	for _, s := range p.cfg.Secondaries {
		i, ok := at[s.Bus]
		if !ok {
			i = len(out)
			at[s.Bus] = i
			out = append(out, busGroup{bus: s.Bus})
		}
		out[i].secondaries = append(out[i].secondaries, s)
	}
	return out
}

// updateSecondaries runs steps 5 to 7 (updateSecondary) for every Secondary
// that is due, the way aktualizr's Primary sends to its Secondaries in
// parallel: the buses at once, each on an actor of the clock of its own,
// and on one bus one Secondary after another, in configuration order. One
// update at a time per bus keeps each ISO-TP transfer's timing what it is
// alone on the bus (its flow control, N_Bs and N_Cr, are never stretched by
// a second transfer of the Primary's); the rest-bus and attackers still
// share the bus with it. A campaign then takes about as long as its
// busiest bus, not the sum of the buses. On the simulated clock the actors
// take turns in a fixed order, so a run still replays exactly from its
// seed. It returns when every bus is done; a panic on a bus's actor (a
// power cut of the Primary, store.Crash) is raised again here.
func (p *Primary) updateSecondaries(rep *CycleReport, att []byte, res *verify.Result, images map[string][]byte) {
	due := func(s SecondaryConfig) bool {
		o := rep.ECUs[s.ID]
		return !(o.Status == Unreachable || (o.Status == Failed && images[s.ID] == nil && res.Targets[s.ID] != nil))
	}
	run := func(g busGroup) {
		for _, s := range g.secondaries {
			if due(s) {
				p.updateSecondary(s, att, res, res.Targets[s.ID], images[s.ID], rep.ECUs[s.ID])
			}
		}
	}
	groups := p.busGroups()
	if len(groups) <= 1 {
		for _, g := range groups {
			run(g)
		}
		return
	}
	var (
		mu       sync.Mutex
		left     = len(groups)
		panicked any
	)
	done := p.cfg.Clock.NewCond(&mu)
	for _, g := range groups {
		p.cfg.Clock.Go(fmt.Sprintf("%s update bus %q", p.cfg.ID, g.bus), func() {
			defer func() {
				r := recover()
				mu.Lock()
				if r != nil && panicked == nil {
					panicked = r
				}
				left--
				done.Broadcast()
				mu.Unlock()
			}()
			run(g)
		})
	}
	mu.Lock()
	for left > 0 {
		done.Wait(clock.Forever)
	}
	r := panicked
	mu.Unlock()
	if r != nil {
		panic(r)
	}
}
