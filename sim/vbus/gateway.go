package vbus

import (
	"errors"
	"fmt"
	"sync"

	"github.com/uptane-hil/uptane-hil/sim/can"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// Direction is the way a frame crosses a Gateway.
type Direction int

// The two ways through a gateway.
const (
	AtoB Direction = iota
	BtoA
)

func (d Direction) String() string {
	if d == AtoB {
		return "a->b"
	}
	return "b->a"
}

// Hook decides what a gateway does with a frame: it returns the frames to
// send on the other bus. Return f unchanged to forward it, an altered copy
// to alter it, nil to drop it, or several frames to inject extra ones. It
// runs on the gateway's actor and may block on the clock (to delay).
type Hook func(dir Direction, f can.Frame) []can.Frame

// GatewayConfig configures a Gateway.
type GatewayConfig struct {
	// Name is the gateway's node name on both buses (default "gateway").
	Name string
	// Clock runs the gateway's two forwarding actors (wall clock when nil).
	Clock clock.Clock
	// AtoB and BtoA are the acceptance filters of each direction (none:
	// every frame).
	AtoB, BtoA []can.Filter
	// Hook, when set, sees every frame before it is forwarded: the
	// compromised-gateway seam. SetHook changes it at run time.
	Hook Hook
}

// GatewayStats counts what a gateway did.
type GatewayStats struct {
	Received  [2]uint64 // by Direction
	Forwarded [2]uint64 // frames sent on the other bus
	Dropped   [2]uint64 // frames the hook dropped
	Failed    [2]uint64 // sends that failed (bus-off, invalid frame from the hook)
}

// Gateway forwards frames between two buses, like a central gateway ECU.
type Gateway struct {
	name   string
	na, nb can.Node
	mu     sync.Mutex
	hook   Hook
	stats  GatewayStats
	errs   []error
}

// NewGateway attaches a gateway to buses a and b and starts forwarding.
func NewGateway(a, b can.Bus, cfg GatewayConfig) (*Gateway, error) {
	if cfg.Name == "" {
		cfg.Name = "gateway"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewWall()
	}
	na, err := a.Attach(cfg.Name, cfg.AtoB...)
	if err != nil {
		return nil, fmt.Errorf("vbus gateway %s: %w", cfg.Name, err)
	}
	nb, err := b.Attach(cfg.Name, cfg.BtoA...)
	if err != nil {
		na.Close()
		return nil, fmt.Errorf("vbus gateway %s: %w", cfg.Name, err)
	}
	g := &Gateway{name: cfg.Name, na: na, nb: nb, hook: cfg.Hook}
	cfg.Clock.Go(cfg.Name+" "+AtoB.String(), func() { g.run(AtoB, na, nb) })
	cfg.Clock.Go(cfg.Name+" "+BtoA.String(), func() { g.run(BtoA, nb, na) })
	return g, nil
}

// SetHook replaces the hook (nil: forward everything unchanged).
func (g *Gateway) SetHook(h Hook) {
	g.mu.Lock()
	g.hook = h
	g.mu.Unlock()
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() GatewayStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Errors returns the send errors seen so far (at most the first 100).
func (g *Gateway) Errors() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]error(nil), g.errs...)
}

// Close detaches the gateway from both buses; its actors end.
func (g *Gateway) Close() error {
	return errors.Join(g.na.Close(), g.nb.Close())
}

func (g *Gateway) run(dir Direction, from, to can.Node) {
	for {
		f, err := from.Recv(clock.Forever)
		if err != nil {
			return // closed
		}
		g.mu.Lock()
		g.stats.Received[dir]++
		hook := g.hook
		g.mu.Unlock()
		out := []can.Frame{f}
		if hook != nil {
			out = hook(dir, f)
		}
		if len(out) == 0 {
			g.mu.Lock()
			g.stats.Dropped[dir]++
			g.mu.Unlock()
			continue
		}
		for _, o := range out {
			err := to.Send(o)
			g.mu.Lock()
			if err != nil {
				g.stats.Failed[dir]++
				if len(g.errs) < 100 {
					g.errs = append(g.errs, fmt.Errorf("vbus gateway %s %s: %w", g.name, dir, err))
				}
			} else {
				g.stats.Forwarded[dir]++
			}
			g.mu.Unlock()
			if errors.Is(err, can.ErrClosed) {
				return
			}
		}
	}
}
