package store

import (
	"slices"
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

// AddAttack keeps a detected attack for the next version report, durably
// (crash point "attack"): one entry per check until the next nonce drops
// the reported ones, and at most limit entries, so that a check that keeps
// firing (a rate limit at every busy answer of a flood) cannot grow the
// report past what the bus carries in one answer. A check that fires again
// after a report carried it is the next report's too: its entry takes the
// new record, unreported, and the next nonce keeps it. It reports whether
// it wrote the record; a check already waiting for a report costs no write.
func (s *Store) AddAttack(a AttackRecord, limit int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.st.Attacks, func(x AttackRecord) bool { return x.Check == a.Check })
	if (i >= 0 && !s.st.Attacks[i].Reported) || (i < 0 && len(s.st.Attacks) >= limit) {
		return false, nil
	}
	c := s.copyLocked()
	if i >= 0 {
		a.Reported = false
		c.Attacks[i] = a
	} else {
		c.Attacks = append(c.Attacks, a)
	}
	old := s.st
	s.st = c
	if err := s.saveNamedLocked("attack"); err != nil {
		s.st = old
		return false, err
	}
	return true, nil
}
