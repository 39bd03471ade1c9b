// Package keys holds the signing keys of repositories and ECUs — ed25519,
// ECDSA P-256 and P-384, RSA-PSS (SHA-256) with 2048 to 4096 bit moduli —
// TUF key identifiers, and key files that are secrets (mode 0600, never
// printed). Repositories sign through the Signer interface, so a
// scenario can hand a role's key to an attacker or swap in an HSM.
package keys

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
)

// Signer signs payloads with one private key.
type Signer interface {
	// KeyID is the TUF key identifier of the public key.
	KeyID() string
	// Public returns the public key in TUF form.
	Public() *metadata.Key
	// Sign signs payload (ed25519: the message; ECDSA and RSA-PSS: its
	// SHA-256, or SHA-384 for ECDSA P-384).
	Sign(payload []byte) ([]byte, error)
}

// Private is an in-memory private key. Its String and Format never reveal
// the secret.
type Private struct {
	priv  crypto.Signer
	pub   *metadata.Key
	keyID string
}

func (p *Private) KeyID() string         { return p.keyID }
func (p *Private) Public() *metadata.Key { k := *p.pub; return &k }

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
