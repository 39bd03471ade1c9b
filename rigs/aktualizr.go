package rigs

import (
	"net"
	"strconv"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// AktualizrECU is how uptane-hil starts an aktualizr-secondary.
type AktualizrECU struct {
	// Verification is its verification_type: "full" (Director Root and
	// Targets, and the Image repository) or "tuf" (the Image repository
	// only). Default full.
	Verification string `yaml:"verification"`
	// KeyType of the key it makes on its first start: ED25519 (default),
	// RSA2048, RSA3072 or RSA4096.
	KeyType string `yaml:"key_type"`
	// Binary is its path (default: $UPTANE_HIL_AKTUALIZR_BIN, else where
	// .ci/aktualizr-build puts it).
	Binary string `yaml:"binary"`
}

// validateAktualizrIP checks a Secondary reached over aktualizr's IP
// Secondary protocol: TCP at a host:port, or (one of ours only) the same
// DER messages over ISO-TP on its bus; it reports the latter, whose bus and
// ISO-TP identifiers are checked as a UDS Secondary's.
func (r *Rig) validateAktualizrIP(f string, e *ECU) (overISOTP bool, err error) {
	if e.Role != Secondary {
		return false, r.Errorf(f+".protocol", "only a Secondary speaks aktualizr-ip")
	}
	if e.Bus != "" {
		if e.Address != "" {
			return false, r.Errorf(f+".address", "an aktualizr-ip Secondary is reached either at address: (TCP) or on bus: (ISO-TP), not both")
		}
		if e.Process != InProcess {
			return false, r.Errorf(f+".process", "aktualizr-ip over ISO-TP is served by our own Secondaries (in-process) only; aktualizr-secondary speaks TCP")
		}
		if e.Encrypted {
			return false, r.Errorf(f+".encrypted", "aktualizr-ip carries no image encryption")
		}
		return true, nil
	}
	return false, r.validateAktualizrTCP(f, e)
}

func (r *Rig) validateAktualizrTCP(f string, e *ECU) error {
	host, port, err := net.SplitHostPort(e.Address)
	if err != nil || host == "" {
		return r.Errorf(f+".address", "%q: an aktualizr-ip Secondary needs its TCP address, host:port", e.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return r.Errorf(f+".address", "%q: port %q is not 1..65535", e.Address, port)
	}
	if e.Process == External {
		return r.Errorf(f+".process", "an aktualizr-ip Secondary runs in-process (ours), as aktualizr-secondary (started by uptane-hil) or physical")
	}
	if e.Profile == "" {
		e.Profile = Full
	}
	if e.Profile != Full {
		return r.Errorf(f+".profile", "an aktualizr-ip Secondary verifies fully (our own) or as its aktualizr.verification says")
	}
	if e.Encrypted {
		return r.Errorf(f+".encrypted", "aktualizr-ip carries no image encryption")
	}
	if e.KeyType == "" {
		e.KeyType = "ed25519"
	}
	a := &e.Aktualizr
	if a.Verification == "" {
		a.Verification = Full
	}
	if !oneOf(a.Verification, Full, "tuf") {
		return r.Errorf(f+".aktualizr.verification", "%q is not one of full, tuf", a.Verification)
	}
	if a.KeyType == "" {
		a.KeyType = "ED25519"
	}
	if !oneOf(a.KeyType, "ED25519", "RSA2048", "RSA3072", "RSA4096") {
		return r.Errorf(f+".aktualizr.key_type", "%q is not one of ED25519, RSA2048, RSA3072, RSA4096", a.KeyType)
	}
	if e.ImageSize == 0 {
		e.ImageSize = 16 << 10
	}
	if e.Process == AktualizrSecondary || e.Process == Physical {
		for _, kt := range []struct{ f, v string }{{"director", r.Backend.KeyTypes.Director}, {"image", r.Backend.KeyTypes.Image}} {
			if !oneOf(kt.v, "", keys.Ed25519, keys.RSA, keys.RSA3072, keys.RSA4096) {
				return r.Errorf("backend.key_types."+kt.f, "%q: aktualizr-secondary %s verifies ed25519 and RSA signatures only", kt.v, e.ID)
			}
		}
	}
	if (e.Process == AktualizrSecondary || e.Process == Physical) && r.Clock != WallClock {
		return r.Errorf(f+".process", "aktualizr-secondary judges expiry by its system clock: the rig runs on clock: wall")
	}
	return nil
}
