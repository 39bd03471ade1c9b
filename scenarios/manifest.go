package scenarios

// Attacks on the vehicle version manifest (replayed, forged, spoofed) and
// what the Director made of it.

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// sendManifest sends the Director a replayed or forged vehicle manifest,
// straight to its HTTP interface (the attacker needs no vehicle for that).
func (r *runner) sendManifest(m *ManifestAttack) error {
	vin := r.v.Rig.Vehicle.VIN
	posted := r.proxy.Posted("/director/" + vin + "/manifest")
	if len(posted) == 0 {
		return fmt.Errorf("the attacker has recorded no vehicle manifest yet")
	}
	var body []byte
	switch m.Action {
	case "replay":
		if m.Index >= len(posted) {
			return fmt.Errorf("the attacker recorded %d manifests", len(posted))
		}
		body = posted[m.Index]
		r.replayed = body
	case "forge":
		p := r.v.Rig.Primary()
		pk := r.heldECU[p.ID]
		if pk == nil {
			return fmt.Errorf("forging a manifest needs the Primary's key (compromise: {repo: ecu, role: %s})", p.ID)
		}
		sm, err := manifest.ParseManifest(posted[len(posted)-1], manifest.MaxManifestSize)
		if err != nil {
			return err
		}
		// Every report needs a fresh nonce; the attacker can sign them only
		// with the Primary key it holds.
		nonces := r.v.Seed.Reader("attacker/nonces")
		for i := range sm.Signed.Reports {
			rep := &sm.Signed.Reports[i]
			if rep.Signed.ECUSerial == m.ECU {
				fake := r.v.ImageBytes("malicious", 0, 64)
				rep.Signed.Installed = manifest.Image{Filename: "malicious.bin", Length: int64(len(fake)), Hashes: meta.HashesOf(fake)}
			}
			rep.Signed.Counter += 1000
			nonce := make([]byte, 16)
			nonces.Read(nonce)
			rep.Signed.Nonce = nonce
			rep.Signed.LatestTime = r.sim.Now()
			rep.Signatures = nil
			if err := rep.Sign(pk); err != nil {
				return err
			}
		}
		sm.Signatures = nil
		if err := sm.Sign(pk); err != nil {
			return err
		}
		if body, err = sm.Encode(); err != nil {
			return err
		}
	}
	r.v.PrimaryCfg.Events(events.Event{Time: r.sim.Now(), Kind: events.Attack, From: events.Attacker, To: events.Director, Label: m.Action + " vehicle manifest"})
	c := &http.Client{Transport: repo.InProcessTransport(r.v.Backend)}
	resp, err := c.Post("http://backend.invalid/director/"+vin+"/manifest", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	recs, err := r.v.Director.Records(vin)
	if err != nil {
		return err
	}
	if n := len(recs); n > 0 && !recs[n-1].Accepted && recs[n-1].Check != 0 {
		for _, ecu := range r.judged {
			r.addID(ecu, recs[n-1].Check)
			r.details[ecu] = append(r.details[ecu], "Director: "+recs[n-1].Error)
		}
	}
	return nil
}

// directorRecord is the installed image the Director recorded for ecu
// from the vehicle's manifests.
func (r *runner) directorRecord(ecu string) (repo.InstalledImage, bool) {
	inst, err := r.v.Director.Installed(r.v.Rig.Vehicle.VIN)
	if err != nil {
		return repo.InstalledImage{}, false
	}
	got, ok := inst[ecu]
	return got, ok
}

// directorAccepted reports whether the Director now believes what the
// attacker told it about ecu.
func (r *runner) directorAccepted(ecu, how string) bool {
	got, ok := r.directorRecord(ecu)
	if !ok {
		return false
	}
	if how == "forged" {
		return got.Filename == "malicious.bin"
	}
	if how == "spoofed" {
		return r.directorMisled(ecu)
	}
	sm, err := manifest.ParseManifest(r.replayed, manifest.MaxManifestSize)
	if err != nil {
		return false
	}
	old, ok := sm.Signed.Report(ecu)
	if !ok {
		return false
	}
	// The report names the old image, and not the genuine one installed.
	inst, _ := r.installed(ecu)
	return got.Filename == old.Signed.Installed.Filename && (got.Filename != inst.Name || !inst.Genuine)
}
