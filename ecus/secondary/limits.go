package secondary

import (
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// limitChecks are the checks a Secondary's UDS server limits stand for
// (docs/pouf.md, "Timing and limits").
var limitChecks = map[uds.Limit]check.ID{
	uds.RateLimit:    check.PoufRateLimit,
	uds.TransferSize: check.PoufTransferSize,
}

// LimitCheck is the check a UDS server limit stands for.
func LimitCheck(l uds.Limit) check.ID { return limitChecks[l] }

// ServerLimits sets the limits of a Secondary's UDS server under profile p:
// a limit whose check p switches off is lifted, and every hit is reported
// to onCheck (nil: nobody) as the failure of its check.
func ServerLimits(cfg uds.ServerConfig, p check.Profile, onCheck func(*check.Error)) uds.ServerConfig {
	cfg.Lifted = nil
	for _, l := range []uds.Limit{uds.RateLimit, uds.TransferSize} {
		if !p.On(limitChecks[l]) {
			cfg.Lifted = append(cfg.Lifted, l)
		}
	}
	cfg.OnLimit = nil
	if onCheck != nil {
		cfg.OnLimit = func(h uds.LimitHit) {
			onCheck(check.Fail(limitChecks[h.Limit], "", "", "%s", h.Detail).OnECU(h.Server))
		}
	}
	return cfg
}

// ServerPreconditions gives a Secondary's UDS server its programming
// preconditions (conds: nil while they hold, else what does not) under
// profile p: a profile without pouf.programming_preconditions (a control
// ECU) does not read them and takes the programming session and file
// transfers whatever the vehicle does.
func ServerPreconditions(cfg uds.ServerConfig, p check.Profile, conds func() error) uds.ServerConfig {
	cfg.Preconditions, cfg.GuardedRoutines = nil, nil
	if conds != nil && p.On(check.PoufProgrammingPreconditions) {
		// the install writes the inactive slot: guarded like a transfer
		cfg.Preconditions, cfg.GuardedRoutines = conds, []uint16{pouf.RoutineInstall}
	}
	return cfg
}
