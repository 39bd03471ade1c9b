package secondary

import (
	"fmt"
	"io"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// TimeNonceSize is the size of the nonce an ECU makes for each time
// attestation.
const TimeNonceSize = 16

func newTimeNonce(cfg Config) ([]byte, error) {
	if cfg.Nonces == nil {
		return nil, fmt.Errorf("secondary %s: no nonce source for time attestations", cfg.ID)
	}
	n := make([]byte, TimeNonceSize)
	if _, err := io.ReadFull(cfg.Nonces, n); err != nil {
		return nil, fmt.Errorf("secondary %s: time nonce: %w", cfg.ID, err)
	}
	return n, nil
}

// TimeNonce is the nonce the ECU made for its next time attestation
// (DID 0xF1A8; docs/pouf.md, "Time").
func (e *ECU) TimeNonce() []byte { return e.st.State().TimeNonce }

// SetTime takes a time attestation the Primary forwards from the time server
// ({#send_time_primary}, {#verify_time}): signed by the time server's key
// over this ECU's nonce, not before the latest attested time, not beyond
// the trusted Director Root's expiry (verify.VerifyTime). An 8-byte
// unauthenticated time (the old DIDTime value) is refused. The ECU then
// makes a new nonce, so the attestation cannot be used twice.
func (e *ECU) SetTime(data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st.State()
	in := verify.TimeInput{Profile: e.cfg.Profile, Key: e.cfg.TimeKey, Nonce: st.TimeNonce, Latest: st.LatestTime, Director: e.director}
	t, err := verify.VerifyTime(in, data, parseRawTime)
	if err != nil {
		if ce, ok := check.As(err); ok {
			return e.record(ce.OnECU(e.cfg.ID))
		}
		return err
	}
	n, err := newTimeNonce(e.cfg)
	if err != nil {
		return err
	}
	return e.st.Update("time", func(s *store.State) error { s.LatestTime, s.TimeNonce = t, n; return nil })
}
