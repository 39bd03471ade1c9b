package secondary

import (
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// VersionReport is {#create_version_report}: a signed ECU version report
// with the installed image, the attacks detected since the last nonce, the
// latest attested time, the Primary's nonce and a counter that grows with
// every report.
func (e *ECU) VersionReport() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.st.NextReport(e.cfg.ID, func(st store.State) (time.Time, []byte) { return st.LatestTime, st.Nonce })
	if err != nil {
		return nil, err
	}
	sr, err := manifest.SignReport(r, e.cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("secondary %s: sign version report: %w", e.cfg.ID, err)
	}
	return sr.Encode()
}
