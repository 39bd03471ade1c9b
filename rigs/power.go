package rigs

import (
	"fmt"
	"strings"
	"time"
)

// Power switches an ECU's power supply with shell commands (run with
// sh -c, the ECU's identifier in UPTANE_HIL_ECU): ecus/power runs them.
type Power struct {
	Off string `yaml:"off"` // cuts the supply, e.g. "usbrelay RELAY_1=0"
	On  string `yaml:"on"`  // restores it, e.g. "usbrelay RELAY_1=1"
	// Timeout bounds each command (default DefaultPowerTimeout).
	Timeout time.Duration `yaml:"timeout"`
	// CutAt lists the points of an update at which power-loss scenarios may
	// cut this ECU's power (default: every point, PowerPoints).
	CutAt []PowerPoint `yaml:"cut_at"`
}

// PowerPoint is a moment of an update at which the power can be cut.
type PowerPoint string

// The points a power-loss scenario may cut the power at.
const (
	CutTransfer PowerPoint = "transfer" // while the image is transferred over the bus
	CutInstall  PowerPoint = "install"  // after the image is verified, while it is written
	CutReset    PowerPoint = "reset"    // at the ECU reset that boots the new image
)

// PowerPoints lists every point, in the order of an update.
var PowerPoints = []PowerPoint{CutTransfer, CutInstall, CutReset}

// DefaultPowerTimeout bounds a power command when the rig gives no timeout.
const DefaultPowerTimeout = 10 * time.Second

// MaxPowerTimeout is the longest timeout a rig may give a power command.
const MaxPowerTimeout = 10 * time.Minute

// Cuts reports whether the power may be cut at point pt.
func (p *Power) Cuts(pt PowerPoint) bool {
	if p == nil {
		return false
	}
	for _, c := range p.CutAt {
		if c == pt {
			return true
		}
	}
	return false
}

func (r *Rig) validatePower(f string, e *ECU) error {
	p := e.Power
	if p == nil {
		return nil
	}
	if e.Role != Secondary {
		return r.Errorf(f+".power", "only a Secondary's power can be switched (the Primary is the harness's own)")
	}
	if strings.TrimSpace(p.Off) == "" {
		return r.Errorf(f+".power.off", "missing: the shell command that cuts %s's power", e.ID)
	}
	if strings.TrimSpace(p.On) == "" {
		return r.Errorf(f+".power.on", "missing: the shell command that restores %s's power", e.ID)
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPowerTimeout
	}
	if p.Timeout < 0 || p.Timeout > MaxPowerTimeout {
		return r.Errorf(f+".power.timeout", "%s is outside 0..%s", p.Timeout, MaxPowerTimeout)
	}
	if len(p.CutAt) == 0 {
		p.CutAt = append([]PowerPoint(nil), PowerPoints...)
	}
	seen := map[PowerPoint]bool{}
	for i, c := range p.CutAt {
		ff := fmt.Sprintf("%s.power.cut_at[%d]", f, i)
		known := false
		for _, pt := range PowerPoints {
			known = known || pt == c
		}
		if !known {
			names := make([]string, len(PowerPoints))
			for j, pt := range PowerPoints {
				names[j] = string(pt)
			}
			return r.Errorf(ff, "%q is not one of %s", c, strings.Join(names, ", "))
		}
		if seen[c] {
			return r.Errorf(ff, "%q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}
