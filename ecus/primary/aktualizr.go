package primary

import (
	"encoding/json"

	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// collected is what {#construct_manifest_primary} gathered from the
// Secondaries: our version reports, and the signed ECU manifests of
// aktualizr-secondaries (link.ReportAktualizr), which go into the vehicle
// manifest as they came.
type collected struct {
	ours      []manifest.SignedReport
	aktualizr []json.RawMessage
	refusals  []manifest.Refusal // the cycle's programming refusals (finish)
}

// checkAktualizrReport checks an aktualizr-secondary's signed ECU manifest
// against the pinned key and identifier. It carries no nonce, so
// pouf.report_nonce cannot be checked: the Primary cannot tell a fresh
// manifest from a replayed one (docs/aktualizr-ip.md).
func (p *Primary) checkAktualizrReport(ecu string, raw []byte) error {
	r, err := akdialect.ParseReport(raw, manifest.MaxReportSize)
	if err != nil {
		return check.Fail(check.PoufReportSignature, "", "", "aktualizr ECU manifest of %s does not parse: %v", ecu, err).OnECU(ecu)
	}
	if !p.cfg.Profile.On(check.PoufReportSignature) {
		return nil
	}
	if r.ECUSerial != ecu {
		return check.Fail(check.PoufReportSignature, "", "", "the ECU at %s's address reported as %q", ecu, r.ECUSerial).OnECU(ecu)
	}
	id := p.pinned[ecu]
	if id.Key == nil {
		return check.Fail(check.PoufReportSignature, "", "", "no pinned key for %s", ecu).OnECU(ecu)
	}
	if err := r.Verify(id.Key); err != nil {
		return check.Fail(check.PoufReportSignature, "", "", "aktualizr ECU manifest of %s: %v", ecu, err).OnECU(ecu)
	}
	return nil
}
