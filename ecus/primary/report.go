package primary

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// collectReports is {#construct_manifest_primary}: a fresh nonce to each
// Secondary, then its signed version report, checked against the pinned key
// and the nonce.
func (p *Primary) collectReports(out map[string]*ECUOutcome) collected {
	var reports collected
	for _, s := range p.cfg.Secondaries {
		o := out[s.ID]
		n, err := p.nonce()
		if err != nil {
			o.Status, o.Err = Failed, err
			continue
		}
		p.emit(events.Event{Kind: events.UDS, From: p.cfg.ID, To: s.ID, ECU: s.ID, Label: "write nonce"})
		var raw []byte
		err = retry(func() error {
			if err := s.Link.WriteNonce(n); err != nil {
				return err
			}
			var err error
			raw, err = s.Link.VersionReport()
			return err
		})
		if err != nil {
			o.Status, o.Err = Unreachable, err
			p.emit(events.Event{Kind: events.Result, ECU: s.ID, Label: "no version report", Err: err.Error()})
			continue
		}
		p.emit(events.Event{Kind: events.UDS, From: s.ID, To: p.cfg.ID, ECU: s.ID, Label: "version report"})
		if p.pinned[s.ID].Report == link.ReportAktualizr {
			if err := p.checkAktualizrReport(s.ID, raw); err != nil {
				p.recordAttack(err)
				o.Status, o.Err = Failed, err
				continue
			}
			o.Report, o.Reports = raw, append(o.Reports, raw)
			reports.aktualizr = append(reports.aktualizr, raw)
			continue
		}
		sr, err := p.checkReport(s.ID, raw, n)
		if err != nil {
			p.recordAttack(err)
			o.Status, o.Err = Failed, err
			continue
		}
		o.Report, o.Reports = raw, append(o.Reports, raw)
		reports.ours = append(reports.ours, *sr)
	}
	return reports
}

func (p *Primary) checkReport(ecu string, raw, nonce []byte) (*manifest.SignedReport, error) {
	sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
	if err != nil {
		return nil, check.Fail(check.PoufReportSignature, "", "", "version report of %s does not parse: %v", ecu, err).OnECU(ecu)
	}
	id := p.pinned[ecu]
	if p.cfg.Profile.On(check.PoufReportSignature) {
		if sr.Signed.ECUSerial != ecu {
			return nil, check.Fail(check.PoufReportSignature, "", "", "the ECU at %s's address reported as %q", ecu, sr.Signed.ECUSerial).OnECU(ecu)
		}
		if id.Key == nil {
			return nil, check.Fail(check.PoufReportSignature, "", "", "no pinned key for %s", ecu).OnECU(ecu)
		}
		if err := sr.Verify(id.Key); err != nil {
			return nil, check.Fail(check.PoufReportSignature, "", "", "version report of %s: %v", ecu, err).OnECU(ecu)
		}
	}
	// Over aktualizr-ip the nonce never reaches the ECU (link.ReportNoNonce):
	// its report carries one of its own, which the Primary cannot check.
	if p.cfg.Profile.On(check.PoufReportNonce) && id.Report != link.ReportNoNonce && !bytes.Equal(sr.Signed.Nonce, nonce) {
		return nil, check.Fail(check.PoufReportNonce, "", "", "version report of %s carries nonce %x, not the %x just written", ecu, []byte(sr.Signed.Nonce), nonce).OnECU(ecu)
	}
	return sr, nil
}

// VersionReport is the Primary's own signed version report (JSON), as the
// next vehicle manifest would carry it.
func (p *Primary) VersionReport() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sr, err := p.ownReport()
	if err != nil {
		return nil, err
	}
	return sr.Encode()
}

// ownReport is the Primary's own version report.
func (p *Primary) ownReport() (manifest.SignedReport, error) {
	n, err := p.nonce()
	if err != nil {
		return manifest.SignedReport{}, err
	}
	r, err := p.st.NextReport(p.cfg.ID, func(s store.State) (time.Time, []byte) { return s.LatestTime, n })
	if err != nil {
		return manifest.SignedReport{}, err
	}
	return manifest.SignReport(r, p.cfg.Key)
}

// sendManifest signs and POSTs the vehicle version manifest.
func (p *Primary) sendManifest(reports collected) error {
	own, err := p.ownReport()
	if err != nil {
		return err
	}
	m := manifest.VehicleManifest{VIN: p.cfg.VIN, PrimaryID: p.cfg.ID, Reports: append([]manifest.SignedReport{own}, reports.ours...),
		AktualizrReports: reports.aktualizr, Refusals: reports.refusals}
	sm, err := manifest.SignManifest(m, p.cfg.Key)
	if err != nil {
		return err
	}
	body, err := sm.Encode()
	if err != nil {
		return err
	}
	u, err := url.JoinPath(p.cfg.DirectorURL, "manifest")
	if err != nil {
		return err
	}
	p.emit(events.Event{Kind: events.HTTP, From: p.cfg.ID, To: events.Director, Label: fmt.Sprintf("POST manifest (%d reports)", len(m.Reports))})
	q := clock.NewQueue[error](p.cfg.Clock, 1)
	p.cfg.Clock.Go("http POST manifest", func() {
		resp, err := p.cfg.Client.Post(u, "application/json", bytes.NewReader(body))
		if err != nil {
			q.TryPush(err)
			return
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode/100 != 2 {
			q.TryPush(fmt.Errorf("primary: Director refused the manifest: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg))))
			return
		}
		q.TryPush(nil)
	})
	timeout := p.cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	err, qerr := q.Pop(timeout)
	if qerr != nil {
		return check.Fail(check.InVehicleRequestTimeout, meta.Director, "", "POST manifest got no answer within %s", timeout)
	}
	return err
}
