// Package keys holds the signing keys of repositories and ECUs: ed25519 and
// ECDSA P-256, TUF key identifiers, and key files that are secrets (mode
// 0600, never printed). Repositories sign through the Signer interface, so a
// scenario can hand a role's key to an attacker or swap in an HSM.
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
)

// Key types this package makes.
const (
	Ed25519   = metadata.KeyTypeEd25519
	ECDSAP256 = metadata.KeyTypeECDSA_SHA2_P256
)

// Signer signs payloads with one private key.
type Signer interface {
	// KeyID is the TUF key identifier of the public key.
	KeyID() string
	// Public returns the public key in TUF form.
	Public() *metadata.Key
	// Sign signs payload (ed25519: the message; ECDSA: its SHA-256).
	Sign(payload []byte) ([]byte, error)
}

// Private is an in-memory private key. Its String and Format never reveal
// the secret.
type Private struct {
	priv  crypto.Signer
	pub   *metadata.Key
	keyID string
}

// Generate makes a key of the given type from r (crypto/rand when nil). With
// a deterministic r (sim/seed) the same key comes out every run.
func Generate(keyType string, r io.Reader) (*Private, error) {
	if r == nil {
		r = rand.Reader
	}
	switch keyType {
	case Ed25519, "":
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(r, seed); err != nil {
			return nil, fmt.Errorf("keys: generate ed25519: %w", err)
		}
		return FromCrypto(ed25519.NewKeyFromSeed(seed))
	case ECDSAP256, metadata.KeyTypeECDSA_SHA2_P256_COMPAT:
		n := elliptic.P256().Params().N
		for {
			b := make([]byte, 32)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("keys: generate ecdsa: %w", err)
			}
			d := new(big.Int).SetBytes(b)
			if d.Sign() == 0 || d.Cmp(n) >= 0 {
				continue
			}
			k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32)))
			if err != nil {
				return nil, fmt.Errorf("keys: generate ecdsa: %w", err)
			}
			return FromCrypto(k)
		}
	}
	return nil, fmt.Errorf("keys: unsupported key type %q (want %s or %s)", keyType, Ed25519, ECDSAP256)
}

// FromCrypto wraps an ed25519 or ECDSA P-256 private key.
func FromCrypto(priv crypto.Signer) (*Private, error) {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("keys: only the P-256 curve is supported for ECDSA")
		}
	default:
		return nil, fmt.Errorf("keys: unsupported private key %T", priv)
	}
	pub, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	id, err := pub.ID()
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Private{priv: priv, pub: pub, keyID: id}, nil
}

func (p *Private) KeyID() string         { return p.keyID }
func (p *Private) Public() *metadata.Key { k := *p.pub; return &k }

// Sign signs payload.
func (p *Private) Sign(payload []byte) ([]byte, error) {
	switch k := p.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, payload), nil
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(payload)
		return ecdsa.SignASN1(rand.Reader, k, h[:])
	}
	return nil, errors.New("keys: unsupported key")
}

// Crypto returns the underlying private key (for decryption of images that
// are wrapped for this ECU's key).
func (p *Private) Crypto() crypto.Signer { return p.priv }

// String never prints the secret.
func (p *Private) String() string {
	return "private key " + p.pub.Type + " " + short(p.keyID) + " (redacted)"
}

// GoString never prints the secret.
func (p *Private) GoString() string { return p.String() }

// MarshalJSON refuses: private keys are never serialized by accident (use
// Save).
func (p *Private) MarshalJSON() ([]byte, error) {
	return nil, errors.New("keys: refusing to marshal a private key (use keys.Save)")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Verify checks sig over payload with a TUF public key.
func Verify(key *metadata.Key, payload, sig []byte) error {
	pub, err := key.ToPublicKey()
	if err != nil {
		return fmt.Errorf("keys: bad public key: %w", err)
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if !ed25519.Verify(k, payload, sig) {
			return errors.New("keys: ed25519 signature does not verify")
		}
		return nil
	case *ecdsa.PublicKey:
		h := sha256.Sum256(payload)
		if !ecdsa.VerifyASN1(k, h[:], sig) {
			return errors.New("keys: ecdsa signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("keys: unsupported public key type %q", key.Type)
}

// ID returns the TUF key identifier of a public key.
func ID(key *metadata.Key) (string, error) { k := *key; return k.ID() }

type keyFile struct {
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
	KeyID   string `json:"keyid"`
	Public  string `json:"public"`
	Private string `json:"private"` // PKCS#8 PEM
}

// Save writes the private key to path with mode 0600, atomically.
func Save(path string, p *Private) error {
	der, err := x509.MarshalPKCS8PrivateKey(p.priv)
	if err != nil {
		return fmt.Errorf("keys: save %s: %w", path, err)
	}
	f := keyFile{KeyType: p.pub.Type, Scheme: p.pub.Scheme, KeyID: p.keyID, Public: p.pub.Value.PublicKey,
		Private: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("keys: save %s: %w", path, err)
	}
	return atomicfile.Write(path, data, 0o600)
}

// Load reads a key written by Save. It refuses files readable by group or
// others.
func Load(path string) (*Private, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keys: load: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: load %s: mode %#o lets others read a secret key; chmod 600 it", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: load: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("keys: load %s: not a key file: %v", path, err)
	}
	blk, _ := pem.Decode([]byte(f.Private))
	if blk == nil {
		return nil, fmt.Errorf("keys: load %s: field private is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: load %s: field private: %v", path, err)
	}
	cs, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: load %s: unsupported key", path)
	}
	p, err := FromCrypto(cs)
	if err != nil {
		return nil, fmt.Errorf("keys: load %s: %w", path, err)
	}
	if f.KeyID != "" && f.KeyID != p.keyID {
		return nil, fmt.Errorf("keys: load %s: keyid %s does not match the key (%s)", path, short(f.KeyID), short(p.keyID))
	}
	return p, nil
}
