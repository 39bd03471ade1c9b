package scenarios

// The key types of a run (setup.key_types): what the Director, the Image
// repository and chosen ECUs sign with, so one scenario can play with RSA
// or ECDSA keys end to end instead of the rig's (ed25519 by default).

import (
	"maps"
	"slices"
	"strings"

	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// KeyTypesSetup overrides the rig's key types for the run. Each value is
// one of keys.Types: ed25519, ecdsa (P-256), ecdsa-sha2-nistp256,
// ecdsa-sha2-nistp384, rsa (RSA-PSS, 2048 bit), rsa-3072, rsa-4096. All
// keys still derive from the run's seed.
type KeyTypesSetup struct {
	Director string            `yaml:"director"` // every Director role
	Image    string            `yaml:"image"`    // every Image repository role, suppliers too
	ECUs     map[string]string `yaml:"ecus"`     // ECU identifier → its signing key's type
}

func (s *Scenario) validateKeyTypes() error {
	kt := s.Setup.KeyTypes
	for _, x := range []struct{ f, v string }{{"director", kt.Director}, {"image", kt.Image}} {
		if !keys.ValidType(x.v) {
			return s.Errorf("setup.key_types."+x.f, "%q is not one of %s", x.v, strings.Join(keys.Types(), ", "))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(kt.ECUs)) {
		if t := kt.ECUs[id]; t == "" || !keys.ValidType(t) {
			return s.Errorf("setup.key_types.ecus."+id, "%q is not one of %s", t, strings.Join(keys.Types(), ", "))
		}
	}
	return nil
}

// rig returns r with the setup's key types: r itself when the setup
// changes none, a copy otherwise (the caller's rig stays as loaded).
func (kt KeyTypesSetup) rig(s *Scenario, r *rigs.Rig) (*rigs.Rig, error) {
	if kt.Director == "" && kt.Image == "" && len(kt.ECUs) == 0 {
		return r, nil
	}
	if r.Backend.Mode != rigs.Embedded {
		return nil, s.Errorf("setup.key_types", "rig %s: key types are for the embedded backend (mode %q)", r.Name, r.Backend.Mode)
	}
	c := *r
	c.ECUs = append([]rigs.ECU(nil), r.ECUs...)
	if kt.Director != "" {
		c.Backend.KeyTypes.Director = kt.Director
	}
	if kt.Image != "" {
		c.Backend.KeyTypes.Image = kt.Image
	}
	for _, id := range slices.Sorted(maps.Keys(kt.ECUs)) {
		e := c.ECU(id)
		switch {
		case e == nil:
			return nil, s.Errorf("setup.key_types.ecus."+id, "rig %s has no ECU %q", r.Name, id)
		case e.PublicKey != nil:
			return nil, s.Errorf("setup.key_types.ecus."+id, "ECU %q brings its own key (public_key in rig %s)", id, r.Name)
		}
		e.KeyType = kt.ECUs[id]
	}
	return &c, nil
}

// keyType is the type the run makes new keys of for a repository (a
// rotation's replacement keys): the one its other keys have.
func keyType(r *rigs.Rig, repo string) string {
	if repo == "director" {
		return r.Backend.KeyTypes.Director
	}
	return r.Backend.KeyTypes.Image
}
