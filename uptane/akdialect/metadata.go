package akdialect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// Roles as aktualizr names them in putMetaReq2 (lower case) and in `_type`
// (capitalised).
var typeNames = map[string]string{"root": "Root", "targets": "Targets", "snapshot": "Snapshot", "timestamp": "Timestamp"}

// Signature methods aktualizr accepts.
const (
	MethodEd25519   = "ed25519"
	MethodRSASSAPSS = "rsassa-pss-sha256"
)

// Method returns aktualizr's signature method for a key, or an error for a
// key type aktualizr cannot verify (it knows ED25519 and RSA only).
func Method(k *metadata.Key) (string, error) {
	switch strings.ToLower(k.Type) {
	case metadata.KeyTypeEd25519:
		return MethodEd25519, nil
	case metadata.KeyTypeRSASSA_PSS_SHA256:
		return MethodRSASSAPSS, nil
	}
	return "", fmt.Errorf("akdialect: aktualizr verifies ED25519 and RSA signatures only, not %s keys", k.Type)
}

// doc is one metadata file being rewritten.
type doc struct {
	role   string
	signed map[string]any
}

func parse(role string, tuf []byte) (*doc, error) {
	v, err := decode(tuf)
	if err != nil {
		return nil, fmt.Errorf("akdialect: %s: %w", role, err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("akdialect: %s: not a JSON object", role)
	}
	signed, ok := top["signed"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("akdialect: %s: no signed object", role)
	}
	t, _ := signed["_type"].(string)
	if strings.ToLower(t) != role {
		return nil, fmt.Errorf("akdialect: %s: _type is %q", role, t)
	}
	signed["_type"] = typeNames[role]
	// aktualizr reads exactly YYYY-MM-DDTHH:MM:SSZ.
	if e, ok := signed["expires"].(string); ok {
		ts, err := time.Parse(time.RFC3339Nano, e)
		if err != nil {
			return nil, fmt.Errorf("akdialect: %s: expires %q: %w", role, e, err)
		}
		signed["expires"] = ts.UTC().Format("2006-01-02T15:04:05Z")
	}
	return &doc{role: role, signed: signed}, nil
}

// sign returns the dialect file: the signed object and one signature entry
// per signer {"keyid", "method", "sig": base64}.
func (d *doc) sign(signers []keys.Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("akdialect: %s: no signers", d.role)
	}
	payload, err := Canonical(d.signed)
	if err != nil {
		return nil, err
	}
	var sigs []any
	for _, s := range signers {
		method, err := Method(s.Public())
		if err != nil {
			return nil, err
		}
		sig, err := s.Sign(payload)
		if err != nil {
			return nil, fmt.Errorf("akdialect: %s: sign with %s: %w", d.role, s.KeyID(), err)
		}
		sigs = append(sigs, map[string]any{"keyid": s.KeyID(), "method": method, "sig": base64.StdEncoding.EncodeToString(sig)})
	}
	return json.Marshal(map[string]any{"signatures": sigs, "signed": d.signed})
}

func fileInfo(version any, b []byte) map[string]any {
	h := sha256.Sum256(b)
	return map[string]any{"version": version, "length": len(b), "hashes": map[string]any{"sha256": hex.EncodeToString(h[:])}}
}

func version(m map[string]any, name string) (any, error) {
	e, ok := m[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("akdialect: no meta entry %s", name)
	}
	v, ok := e["version"]
	if !ok {
		return nil, fmt.Errorf("akdialect: meta entry %s has no version", name)
	}
	return v, nil
}

// Set is one repository's metadata in the dialect, as putMetaReq2 carries
// it (a Director set has Root and Targets only).
type Set struct {
	Root, Timestamp, Snapshot, Targets []byte
}

// Signers gives the current signers of a top-level role.
type Signers func(role string) []keys.Signer

// Root rewrites a Root (TUF form) in the dialect, signed by signers.
func Root(tuf []byte, signers []keys.Signer) ([]byte, error) {
	d, err := parse("root", tuf)
	if err != nil {
		return nil, err
	}
	return d.sign(signers)
}

// Targets rewrites a Targets file. Image targets get custom.hardwareIds (from
// custom.uptane.hardwareIds), custom.version (the release counter, as a
// string) and custom.targetFormat "BINARY"; delegations
// are dropped, and the targets of the delegated files in delegated (TUF
// form) are merged in, because aktualizr-secondary matches Director targets
// against the top-level Image targets only. Director targets keep their
// custom.ecuIdentifiers, which aktualizr reads as they are.
func Targets(tuf []byte, delegated [][]byte, signers []keys.Signer) ([]byte, error) {
	d, err := targetsDoc(tuf, delegated)
	if err != nil {
		return nil, err
	}
	return d.sign(signers)
}

// targetsDoc is Targets before signing.
func targetsDoc(tuf []byte, delegated [][]byte) (*doc, error) {
	d, err := parse("targets", tuf)
	if err != nil {
		return nil, err
	}
	ts, _ := d.signed["targets"].(map[string]any)
	if ts == nil {
		ts = map[string]any{}
	}
	for i, raw := range delegated {
		dd, err := decode(raw)
		if err != nil {
			return nil, fmt.Errorf("akdialect: delegated targets %d: %w", i, err)
		}
		signed, _ := dd.(map[string]any)["signed"].(map[string]any)
		more, _ := signed["targets"].(map[string]any)
		for name, t := range more {
			if _, dup := ts[name]; !dup {
				ts[name] = t
			}
		}
	}
	for _, t := range ts {
		tm, ok := t.(map[string]any)
		if !ok {
			continue
		}
		c, _ := tm["custom"].(map[string]any)
		if c == nil {
			continue
		}
		if _, director := c["ecuIdentifiers"]; director {
			continue
		}
		if up, ok := c["uptane"].(map[string]any); ok {
			if hw, ok := up["hardwareIds"]; ok {
				c["hardwareIds"] = hw
			}
			// In Tuf mode aktualizr-secondary picks, of the images for its
			// hardware, the one with the highest custom.version.
			if rc, ok := up["releaseCounter"].(json.Number); ok {
				c["version"] = rc.String()
			}
		}
		c["targetFormat"] = "BINARY"
	}
	d.signed["targets"] = ts
	delete(d.signed, "delegations")
	return d, nil
}

// Snapshot rewrites a Snapshot so that it names the dialect Targets file
// (its version, length and hashes) and nothing else.
func Snapshot(tuf, targets []byte, signers []keys.Signer) ([]byte, error) {
	d, err := parse("snapshot", tuf)
	if err != nil {
		return nil, err
	}
	m, _ := d.signed["meta"].(map[string]any)
	v, err := version(m, "targets.json")
	if err != nil {
		return nil, err
	}
	d.signed["meta"] = map[string]any{"targets.json": fileInfo(v, targets)}
	return d.sign(signers)
}

// Timestamp rewrites a Timestamp so that it names the dialect Snapshot with
// the hashes and length aktualizr requires.
func Timestamp(tuf, snapshot []byte, signers []keys.Signer) ([]byte, error) {
	d, err := parse("timestamp", tuf)
	if err != nil {
		return nil, err
	}
	m, _ := d.signed["meta"].(map[string]any)
	v, err := version(m, "snapshot.json")
	if err != nil {
		return nil, err
	}
	d.signed["meta"] = map[string]any{"snapshot.json": fileInfo(v, snapshot)}
	return d.sign(signers)
}

// ImageSet rewrites an Image repository's current Root, Timestamp, Snapshot
// and Targets (TUF form) in the dialect.
func ImageSet(root, timestamp, snapshot, targets []byte, delegated [][]byte, sg Signers) (*Set, error) {
	var s Set
	var err error
	if s.Root, err = Root(root, sg("root")); err != nil {
		return nil, err
	}
	if s.Targets, err = Targets(targets, delegated, sg("targets")); err != nil {
		return nil, err
	}
	if s.Snapshot, err = Snapshot(snapshot, s.Targets, sg("snapshot")); err != nil {
		return nil, err
	}
	if s.Timestamp, err = Timestamp(timestamp, s.Snapshot, sg("timestamp")); err != nil {
		return nil, err
	}
	return &s, nil
}

// DirectorSet rewrites a Director's Root and a vehicle's Targets.
func DirectorSet(root, targets []byte, sg Signers) (*Set, error) {
	var s Set
	var err error
	if s.Root, err = Root(root, sg("root")); err != nil {
		return nil, err
	}
	if s.Targets, err = Targets(targets, nil, sg("targets")); err != nil {
		return nil, err
	}
	return &s, nil
}

// ErrNoFile: a repository does not have a file the dialect set needs.
var ErrNoFile = errors.New("akdialect: metadata file missing")
