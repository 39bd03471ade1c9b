package primary

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// TimeNonceSize is the size of the nonce the Primary makes for each time
// attestation.
const TimeNonceSize = 16

// checkTime is step 2, {#check_time_primary}: it collects the nonce each Secondary
// made for its next time attestation (DID 0xF1A8), adds a fresh one of its
// own, asks the time server to attest the current time over all of them,
// and takes the attested time if verify.VerifyTime does (signed by the time
// server's key given at the factory, over its nonce, not before its latest
// attested time, not beyond its Director Root's expiry). It returns the
// Primary's latest securely attested time — the new one, or on any failure
// the one it had — and the attestation to forward to the Secondaries (each
// checks it against its own nonce), nil when there is none.
func (p *Primary) checkTime() (time.Time, []byte, error) {
	st := p.st.State()
	latest := st.LatestTime
	if p.tf == nil {
		return latest, nil, check.Fail(check.VerifyTimeAttestation, "", "", "no time server is configured: the Primary keeps its latest attested time %s", latest.UTC().Format(time.RFC3339)).OnECU(p.cfg.ID)
	}
	own := make([]byte, TimeNonceSize)
	if _, err := io.ReadFull(p.cfg.Nonces, own); err != nil {
		return latest, nil, fmt.Errorf("primary %s: time nonce: %w", p.cfg.ID, err)
	}
	q := url.Values{}
	q.Add("nonce", hex.EncodeToString(own))
	for _, s := range p.cfg.Secondaries {
		n, err := s.Link.TimeNonce()
		if err != nil {
			// that ECU will refuse this attestation and keep its latest time
			p.emit(events.Event{Kind: events.Note, From: p.cfg.ID, To: s.ID, Label: "no time nonce", Err: err.Error()})
			continue
		}
		q.Add("nonce", hex.EncodeToString(n))
	}
	att, err := p.tf.Fetch("attest?"+q.Encode(), manifest.MaxTimeAttestation)
	if err != nil {
		return latest, nil, err
	}
	p.emit(events.Event{Kind: events.HTTP, From: events.Director, To: p.cfg.ID, Label: "time attestation"})
	in := verify.TimeInput{Profile: p.cfg.Profile, Key: p.cfg.TimeKey, Nonce: own, Latest: latest, Director: p.director}
	t, err := verify.VerifyTime(in, att, nil)
	if err != nil {
		if ce, ok := check.As(err); ok {
			ce.OnECU(p.cfg.ID)
		}
		return latest, att, err
	}
	if err := p.st.Update("time", func(s *store.State) error { s.LatestTime = t; return nil }); err != nil {
		return latest, att, err
	}
	return t, att, nil
}
