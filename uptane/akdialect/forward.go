package akdialect

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Forwarding: a Primary that forwards whatever its backend link gave it
// (the compromised-Primary model, docs/aktualizr-ip.md) hands an
// aktualizr-secondary the same metadata, only in aktualizr's dialect. The
// dialect changes the signed bytes, so every signature is made again; to
// keep what the attacker could and could not sign, a signature is made
// again only by the key that made the original one, and only when the
// original verifies with it. A signature that does not verify, or by a key
// nobody here holds, becomes a signature that does not verify either, with
// the same key ID. Hashes and lengths of the Snapshot (in the Timestamp) and
// of the Targets (in the Snapshot) name the dialect file when the original
// named the file forwarded beside it, and name nothing when it did not, so
// a mix-and-match stays one. Versions, expiry, keys, thresholds and targets
// are carried as they are.

// Keyring gives the signer of a key ID, nil when no one here holds it (the
// repositories' keys and the keys an attacker holds or made).
type Keyring func(keyID string) keys.Signer

// sigPlan is one signature of a dialect file: made by a signer, or a
// signature that does not verify (bogus) under keyID with method.
type sigPlan struct {
	signer keys.Signer
	keyID  string
	method string
}

// plans returns the signatures to make for a TUF file: its signatures
// that verify with the keyring's key, re-made; the others bogus.
func plans(tuf []byte, kr Keyring) ([]sigPlan, error) {
	v, err := decode(tuf)
	if err != nil {
		return nil, err
	}
	top, _ := v.(map[string]any)
	signed, ok := top["signed"]
	if !ok {
		return nil, fmt.Errorf("akdialect: no signed object")
	}
	// The TUF signatures were made over TUF's canonical JSON (OLPC:
	// strings escape only `"` and `\`), not over the dialect's jsoncpp
	// form: the two differ on every string with a control character (the
	// newlines of an RSA or ECDSA key's PEM in a Root) or outside ASCII.
	payload, err := tufCanonical(signed)
	if err != nil {
		return nil, err
	}
	sigs, _ := top["signatures"].([]any)
	var out []sigPlan
	for _, s := range sigs {
		m, _ := s.(map[string]any)
		id, _ := m["keyid"].(string)
		hexSig, _ := m["sig"].(string)
		raw, _ := hex.DecodeString(hexSig)
		p := sigPlan{keyID: id, method: MethodEd25519}
		if signer := kr(id); signer != nil {
			if meth, err := Method(signer.Public()); err == nil {
				p.method = meth
			}
			if keys.Verify(signer.Public(), payload, raw) == nil {
				p.signer = signer
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// tufCanonical is TUF's canonical JSON of a decoded value, the bytes a
// TUF signature covers.
func tufCanonical(v any) ([]byte, error) {
	b, err := cjson.EncodeCanonical(v)
	if err != nil {
		return nil, fmt.Errorf("akdialect: TUF canonical JSON: %w", err)
	}
	return b, nil
}

// signPlans is sign with each signature as planned.
func (d *doc) signPlans(ps []sigPlan) ([]byte, error) {
	payload, err := Canonical(d.signed)
	if err != nil {
		return nil, err
	}
	sigs := []any{}
	for _, p := range ps {
		var sig []byte
		if p.signer != nil {
			if sig, err = p.signer.Sign(payload); err != nil {
				return nil, fmt.Errorf("akdialect: %s: sign with %s: %w", d.role, p.keyID, err)
			}
		} else {
			// the size of a real one, and nothing any key verifies
			h := sha256.Sum256(append([]byte("not a signature of "+p.keyID), payload...))
			sig = append(h[:], h[:]...)
		}
		sigs = append(sigs, map[string]any{"keyid": p.keyID, "method": p.method, "sig": base64.StdEncoding.EncodeToString(sig)})
	}
	return json.Marshal(map[string]any{"signatures": sigs, "signed": d.signed})
}

// named reports whether a meta entry's hashes and length (where given)
// name the file b.
func named(entry map[string]any, b []byte) bool {
	if b == nil {
		return false
	}
	if l, ok := entry["length"].(json.Number); ok {
		if n, err := l.Int64(); err != nil || n != int64(len(b)) {
			return false
		}
	}
	hs, _ := entry["hashes"].(map[string]any)
	if h, ok := hs["sha256"].(string); ok {
		sum := sha256.Sum256(b)
		return strings.EqualFold(h, hex.EncodeToString(sum[:]))
	}
	return true
}

// forwardMeta rewrites a Timestamp's or Snapshot's one meta entry (name)
// so that it names next (the dialect file) when the original entry named
// nextTUF (the original forwarded beside it), and a file nobody has when
// it did not.
func forwardMeta(d *doc, name string, nextTUF, next []byte) error {
	m, _ := d.signed["meta"].(map[string]any)
	e, ok := m[name].(map[string]any)
	if !ok {
		return fmt.Errorf("akdialect: %s names no %s", d.role, name)
	}
	v, ok := e["version"]
	if !ok {
		return fmt.Errorf("akdialect: %s: meta entry %s has no version", d.role, name)
	}
	fi := fileInfo(v, next)
	if !named(e, nextTUF) {
		h := sha256.Sum256(append([]byte("not the forwarded "+name), next...))
		fi["hashes"] = map[string]any{"sha256": hex.EncodeToString(h[:])}
	}
	d.signed["meta"] = map[string]any{name: fi}
	return nil
}

// latest returns the file of a role with the highest version among files
// (names "N.role.json" or "role.json"), and the Roots in version order.
func pick(files map[string][]byte, role string) []byte {
	if b, ok := files[meta.UnversionedName(role)]; ok {
		return b
	}
	var best []byte
	bestV := int64(-1)
	for n, b := range files {
		var v int64
		var r string
		if k, err := fmt.Sscanf(strings.Replace(n, ".", " ", 1), "%d %s", &v, &r); k == 2 && err == nil && r == role+".json" && v > bestV {
			best, bestV = b, v
		}
	}
	return best
}

// delegatedFiles are the files of files that are no top-level role.
func delegatedFiles(files map[string][]byte) [][]byte {
	var names []string
	for n := range files {
		base := n
		if i := strings.Index(n, "."); i > 0 && strings.Trim(n[:i], "0123456789") == "" {
			base = n[i+1:]
		}
		switch base {
		case "root.json", "timestamp.json", "snapshot.json", "targets.json":
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		out = append(out, files[n])
	}
	return out
}

// ForwardRoot rewrites one Root as forwarded.
func ForwardRoot(tuf []byte, kr Keyring) ([]byte, error) {
	ps, err := plans(tuf, kr)
	if err != nil {
		return nil, fmt.Errorf("akdialect: root: %w", err)
	}
	d, err := parse(meta.Root, tuf)
	if err != nil {
		return nil, err
	}
	return d.signPlans(ps)
}

// Forward rewrites what a Primary forwards of one repository (files by
// the names it sends them under) into the dialect: the latest Root, and,
// when present, Timestamp, Snapshot and Targets (delegated targets merged
// into the top-level Targets, as FromImage does). A role not forwarded is
// left empty.
func Forward(files map[string][]byte, kr Keyring) (*Set, error) {
	var s Set
	var err error
	if b := pick(files, meta.Root); b != nil {
		if s.Root, err = ForwardRoot(b, kr); err != nil {
			return nil, err
		}
	}
	tgTUF := pick(files, meta.Targets)
	if tgTUF != nil {
		ps, err := plans(tgTUF, kr)
		if err != nil {
			return nil, fmt.Errorf("akdialect: targets: %w", err)
		}
		d, err := targetsDoc(tgTUF, delegatedFiles(files))
		if err != nil {
			return nil, err
		}
		if s.Targets, err = d.signPlans(ps); err != nil {
			return nil, err
		}
	}
	snTUF := pick(files, meta.Snapshot)
	if snTUF != nil {
		if s.Snapshot, err = forwardNamed(meta.Snapshot, snTUF, "targets.json", tgTUF, s.Targets, kr); err != nil {
			return nil, err
		}
	}
	if tsTUF := pick(files, meta.Timestamp); tsTUF != nil {
		if s.Timestamp, err = forwardNamed(meta.Timestamp, tsTUF, "snapshot.json", snTUF, s.Snapshot, kr); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func forwardNamed(role string, tuf []byte, name string, nextTUF, next []byte, kr Keyring) ([]byte, error) {
	ps, err := plans(tuf, kr)
	if err != nil {
		return nil, fmt.Errorf("akdialect: %s: %w", role, err)
	}
	d, err := parse(role, tuf)
	if err != nil {
		return nil, err
	}
	if err := forwardMeta(d, name, nextTUF, next); err != nil {
		return nil, err
	}
	return d.signPlans(ps)
}
