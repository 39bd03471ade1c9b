package akdialect

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// Key types of getInfoResp (libaktualizr's numbering).
const (
	KeyED25519 = 0
	KeyRSA2048 = 1
	KeyRSA3072 = 2
	KeyRSA4096 = 3
)

// KeyFromInfo turns the key of a getInfoResp into a TUF public key: an
// ED25519 key is 64 hex characters (aktualizr sends upper case), an RSA key
// is PEM.
func KeyFromInfo(keyType int64, value []byte) (*metadata.Key, error) {
	switch keyType {
	case KeyED25519:
		b, err := hex.DecodeString(strings.TrimSpace(string(value)))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("akdialect: ED25519 key %.16q… is not %d hex bytes", value, ed25519.PublicKeySize)
		}
		return &metadata.Key{Type: metadata.KeyTypeEd25519, Scheme: metadata.KeySchemeEd25519,
			Value: metadata.KeyVal{PublicKey: hex.EncodeToString(b)}}, nil
	case KeyRSA2048, KeyRSA3072, KeyRSA4096:
		blk, _ := pem.Decode(value)
		if blk == nil {
			return nil, errors.New("akdialect: RSA key is not PEM")
		}
		if _, err := x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
			return nil, fmt.Errorf("akdialect: RSA key: %w", err)
		}
		return &metadata.Key{Type: metadata.KeyTypeRSASSA_PSS_SHA256, Scheme: metadata.KeySchemeRSASSA_PSS_SHA256,
			Value: metadata.KeyVal{PublicKey: string(value)}}, nil
	}
	return nil, fmt.Errorf("akdialect: key type %d is not one aktualizr uses", keyType)
}

// KeyID is aktualizr's identifier of a public key: the SHA-256 of the
// canonical JSON string of its value (not TUF's key ID).
func KeyID(k *metadata.Key) string {
	v := strings.TrimRight(k.Value.PublicKey, "\n")
	if k.Type == metadata.KeyTypeEd25519 {
		v = strings.ToUpper(v)
	}
	c, _ := Canonical(v)
	h := sha256.Sum256(c)
	return hex.EncodeToString(h[:])
}

// MaxReport caps an aktualizr ECU manifest.
const MaxReport = 64 << 10

// Report is aktualizr-secondary's signed ECU version manifest:
//
//	{"signatures": [{"keyid", "method", "sig": base64}],
//	 "signed": {"ecu_serial", "installed_image": {"filepath",
//	   "fileinfo": {"length", "hashes": {"sha256"}}}, "attacks_detected": "",
//	   "previous_timeserver_time", "timeserver_time", ["report_counter"]}}
//
// It carries no nonce and its times are fixed at 1970: nothing in it
// proves freshness.
type Report struct {
	ECUSerial string
	Installed manifest.Image
	// Attacks is attacks_detected, a free string (aktualizr sends "").
	Attacks string
	payload []byte // the canonical signed object
	sigs    []signature
}

type signature struct {
	KeyID  string `json:"keyid"`
	Method string `json:"method"`
	Sig    string `json:"sig"`
}

type reportJSON struct {
	Signatures []signature     `json:"signatures"`
	Signed     json.RawMessage `json:"signed"`
	_          struct{}        `json:"-"`
}

type reportSigned struct {
	ECUSerial string `json:"ecu_serial"`
	Installed struct {
		Filepath string `json:"filepath"`
		Fileinfo struct {
			Length int64             `json:"length"`
			Hashes map[string]string `json:"hashes"`
		} `json:"fileinfo"`
	} `json:"installed_image"`
	Attacks json.RawMessage `json:"attacks_detected"`
}

// ParseReport decodes an aktualizr ECU manifest (at most max bytes,
// MaxReport when max <= 0). It does not verify the signature.
func ParseReport(raw []byte, max int) (*Report, error) {
	if max <= 0 {
		max = MaxReport
	}
	if len(raw) > max {
		return nil, fmt.Errorf("akdialect: ECU manifest is %d bytes, more than the limit of %d", len(raw), max)
	}
	var rj reportJSON
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&rj); err != nil {
		return nil, fmt.Errorf("akdialect: ECU manifest: %w", err)
	}
	if len(rj.Signed) == 0 {
		return nil, errors.New("akdialect: ECU manifest: no signed object")
	}
	if len(rj.Signatures) == 0 || len(rj.Signatures) > manifest.MaxSignatures {
		return nil, fmt.Errorf("akdialect: ECU manifest: %d signatures, want 1..%d", len(rj.Signatures), manifest.MaxSignatures)
	}
	var s reportSigned
	if err := json.Unmarshal(rj.Signed, &s); err != nil {
		return nil, fmt.Errorf("akdialect: ECU manifest: signed: %w", err)
	}
	if s.ECUSerial == "" || len(s.ECUSerial) > manifest.MaxString || len(s.Installed.Filepath) > manifest.MaxString {
		return nil, errors.New("akdialect: ECU manifest: ecu_serial empty, or a field too long")
	}
	if s.Installed.Fileinfo.Length < 0 || len(s.Installed.Fileinfo.Hashes) > manifest.MaxHashes {
		return nil, errors.New("akdialect: ECU manifest: bad installed_image.fileinfo")
	}
	payload, err := CanonicalJSON(rj.Signed)
	if err != nil {
		return nil, err
	}
	r := &Report{ECUSerial: s.ECUSerial, payload: payload, sigs: rj.Signatures,
		Installed: manifest.Image{Filename: s.Installed.Filepath, Length: s.Installed.Fileinfo.Length, Hashes: metadata.Hashes{}}}
	for alg, h := range s.Installed.Fileinfo.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("akdialect: ECU manifest: installed_image hash %s: %w", alg, err)
		}
		r.Installed.Hashes[alg] = b
	}
	_ = json.Unmarshal(s.Attacks, &r.Attacks)
	return r, nil
}

// Verify checks that the manifest carries a valid signature by key.
func (r *Report) Verify(key *metadata.Key) error {
	var last error = fmt.Errorf("no signature by key %.12s", KeyID(key))
	want := KeyID(key)
	for _, s := range r.sigs {
		if s.KeyID != want {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			last = fmt.Errorf("signature is not base64: %w", err)
			continue
		}
		if err := verifySig(key, strings.ToLower(s.Method), r.payload, sig); err != nil {
			last = err
			continue
		}
		return nil
	}
	return fmt.Errorf("%w: aktualizr ECU manifest of %q: %v", manifest.ErrNoSignature, r.ECUSerial, last)
}

func verifySig(key *metadata.Key, method string, payload, sig []byte) error {
	switch key.Type {
	case metadata.KeyTypeEd25519:
		if method != MethodEd25519 {
			return fmt.Errorf("method %q for an ED25519 key", method)
		}
		pub, err := hex.DecodeString(key.Value.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return errors.New("bad ED25519 key")
		}
		if !ed25519.Verify(pub, payload, sig) {
			return errors.New("ed25519 signature does not verify")
		}
		return nil
	case metadata.KeyTypeRSASSA_PSS_SHA256:
		if method != "rsassa-pss" && method != MethodRSASSAPSS {
			return fmt.Errorf("method %q for an RSA key", method)
		}
		blk, _ := pem.Decode([]byte(key.Value.PublicKey))
		if blk == nil {
			return errors.New("RSA key is not PEM")
		}
		pk, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return err
		}
		rk, ok := pk.(*rsa.PublicKey)
		if !ok {
			return errors.New("not an RSA key")
		}
		h := sha256.Sum256(payload)
		return rsa.VerifyPSS(rk, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	}
	return fmt.Errorf("key type %s", key.Type)
}
