package store

import (
	"time"

	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// NextReport is the ECU's part of {#create_version_report}, the same for
// the Primary and a Secondary: the report counter goes up by one and every
// recorded attack is marked reported, durably (crash point "report"); the
// report names the installed image and those attacks. The caller gives the
// time and nonce and signs it.
func (s *Store) NextReport(ecu string, latest func(State) (time.Time, []byte)) (manifest.ECUVersionReport, error) {
	err := s.Update("report", func(st *State) error {
		st.ReportCounter++
		for i := range st.Attacks {
			st.Attacks[i].Reported = true
		}
		return nil
	})
	if err != nil {
		return manifest.ECUVersionReport{}, err
	}
	st := s.State()
	var img manifest.Image
	if in := st.Installed(); in != nil {
		img = manifest.Image{Filename: in.Name, Length: in.Length, Hashes: in.Hashes}
	}
	var attacks []manifest.DetectedAttack
	for _, a := range st.Attacks {
		attacks = append(attacks, manifest.DetectedAttack{Check: a.Check, Attack: a.Attack, Detail: a.Detail})
	}
	t, nonce := latest(st)
	return manifest.NewReport(ecu, img, attacks, t, nonce, st.ReportCounter), nil
}
