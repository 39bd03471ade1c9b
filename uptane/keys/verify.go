package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Signature schemes (TUF "scheme"; the "method" of an Uptane signature).
const (
	SchemeEd25519   = metadata.KeySchemeEd25519           // ed25519 over the message
	SchemeECDSAP256 = metadata.KeySchemeECDSA_SHA2_P256   // ECDSA P-256 over SHA-256, ASN.1 DER
	SchemeECDSAP384 = metadata.KeySchemeECDSA_SHA2_P384   // ECDSA P-384 over SHA-384, ASN.1 DER
	SchemeRSAPSS    = metadata.KeySchemeRSASSA_PSS_SHA256 // RSASSA-PSS, SHA-256, MGF1-SHA-256
)

// Sign signs payload: ed25519 signs it as is; ECDSA signs its SHA-256
// (P-256) or SHA-384 (P-384), ASN.1 DER encoded; RSA signs its SHA-256 with
// RSASSA-PSS, MGF1-SHA-256 and a salt as long as the hash (what go-tuf and
// securesystemslib write). ECDSA and PSS signatures use crypto/rand, so they
// differ between runs; ed25519 signatures do not.
func (p *Private) Sign(payload []byte) ([]byte, error) {
	switch k := p.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, payload), nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384(payload)
			return ecdsa.SignASN1(rand.Reader, k, h[:])
		}
		h := sha256.Sum256(payload)
		return ecdsa.SignASN1(rand.Reader, k, h[:])
	case *rsa.PrivateKey:
		h := sha256.Sum256(payload)
		return rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return nil, errors.New("keys: unsupported key")
}

// Verify checks sig over payload with a TUF public key. It takes keys as
// go-tuf and python-tuf/securesystemslib write them:
//
//	keytype                         scheme                public
//	ed25519                         ed25519               hex
//	ecdsa or ecdsa-sha2-nistp256    ecdsa-sha2-nistp256   PEM (PKIX), P-256
//	ecdsa or ecdsa-sha2-nistp384    ecdsa-sha2-nistp384   PEM (PKIX), P-384
//	rsa                             rsassa-pss-sha256     PEM (PKIX), 2048 to 4096 bits
//
// An RSA-PSS signature is accepted with any salt length (securesystemslib
// verifies with PSS.AUTO too). A key whose type, scheme and encoded key do
// not agree is refused with an error that says which.
func Verify(key *metadata.Key, payload, sig []byte) error {
	pub, err := PublicKey(key)
	if err != nil {
		return err
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if !ed25519.Verify(k, payload, sig) {
			return errors.New("keys: ed25519 signature does not verify")
		}
		return nil
	case *ecdsa.PublicKey:
		var ok bool
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384(payload)
			ok = ecdsa.VerifyASN1(k, h[:], sig)
		} else {
			h := sha256.Sum256(payload)
			ok = ecdsa.VerifyASN1(k, h[:], sig)
		}
		if !ok {
			return fmt.Errorf("keys: %s signature does not verify", key.Scheme)
		}
		return nil
	case *rsa.PublicKey:
		h := sha256.Sum256(payload)
		if err := rsa.VerifyPSS(k, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
			return fmt.Errorf("keys: %s signature does not verify: %v", key.Scheme, err)
		}
		return nil
	}
	return fmt.Errorf("keys: unsupported public key type %q", key.Type)
}

// PublicKey decodes a TUF public key after checking that its keytype,
// scheme and key agree (see Verify for the table).
func PublicKey(key *metadata.Key) (crypto.PublicKey, error) {
	if key == nil {
		return nil, errors.New("keys: no public key")
	}
	switch key.Type {
	case metadata.KeyTypeEd25519:
		if key.Scheme != SchemeEd25519 {
			return nil, fmt.Errorf("keys: keytype ed25519 with scheme %q (want %s)", key.Scheme, SchemeEd25519)
		}
		b, err := hex.DecodeString(key.Value.PublicKey)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("keys: ed25519 public key is not %d hex-encoded bytes", ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(b), nil
	case ECDSAP256, ECDSAP256Compat, ECDSAP384:
		var curve elliptic.Curve
		switch key.Scheme {
		case SchemeECDSAP256:
			curve = elliptic.P256()
		case SchemeECDSAP384:
			curve = elliptic.P384()
		default:
			return nil, fmt.Errorf("keys: keytype %s with scheme %q (want %s or %s)", key.Type, key.Scheme, SchemeECDSAP256, SchemeECDSAP384)
		}
		if key.Type != ECDSAP256 && key.Type != key.Scheme {
			return nil, fmt.Errorf("keys: keytype %s with scheme %s", key.Type, key.Scheme)
		}
		pub, err := parsePEM(key)
		if err != nil {
			return nil, err
		}
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("keys: keytype %s holds a %T, not an ECDSA key", key.Type, pub)
		}
		if k.Curve != curve {
			return nil, fmt.Errorf("keys: scheme %s with a key on curve %s", key.Scheme, k.Curve.Params().Name)
		}
		return k, nil
	case metadata.KeyTypeRSASSA_PSS_SHA256:
		if key.Scheme != SchemeRSAPSS {
			return nil, fmt.Errorf("keys: keytype rsa with scheme %q (want %s)", key.Scheme, SchemeRSAPSS)
		}
		pub, err := parsePEM(key)
		if err != nil {
			return nil, err
		}
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("keys: keytype rsa holds a %T, not an RSA key", pub)
		}
		if b := k.N.BitLen(); b < MinRSABits || b > MaxRSABits {
			return nil, fmt.Errorf("keys: RSA key of %d bits (want %d to %d)", b, MinRSABits, MaxRSABits)
		}
		return k, nil
	}
	return nil, fmt.Errorf("keys: unsupported public key type %q", key.Type)
}

// Scheme returns the signature scheme of a TUF public key (the Uptane
// signature "method"), after checking the key as PublicKey does.
func Scheme(key *metadata.Key) (string, error) {
	if _, err := PublicKey(key); err != nil {
		return "", err
	}
	return key.Scheme, nil
}

func parsePEM(key *metadata.Key) (crypto.PublicKey, error) {
	blk, rest := pem.Decode([]byte(key.Value.PublicKey))
	if blk == nil {
		return nil, fmt.Errorf("keys: keytype %s: public key is not PEM", key.Type)
	}
	if blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("keys: keytype %s: PEM block %q, want PUBLIC KEY", key.Type, blk.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("keys: keytype %s: data after the PEM block", key.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: keytype %s: %v", key.Type, err)
	}
	return pub, nil
}
