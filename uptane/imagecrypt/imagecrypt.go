// Package imagecrypt encrypts an image for one ECU ({#director_repository}:
// "The Director could encrypt images for ECUs that require them") and
// decrypts it on the ECU ({#verify_image} step 6).
//
// The image is sealed with AES-256-GCM under a fresh random key; the image
// file name is the additional authenticated data. The key is wrapped for
// the ECU's X25519 public key: an ephemeral X25519 key pair, ECDH with the
// ECU's key, HKDF-SHA256 (salt = ephemeral public key || ECU public key,
// info = "uptane-hil imagecrypt v1 key wrap") to a 32-byte wrapping key and a
// 12-byte nonce, and AES-256-GCM of the image key under it. The wrapped key
// is "ephemeral public key (32 bytes) || sealed image key (48 bytes)".
package imagecrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Algorithms recorded in meta.Encrypted.
const (
	Algorithm = "AES-256-GCM"
	KeyWrap   = "X25519-HKDF-SHA256-AES-256-GCM"
)

const (
	keyLen     = 32
	nonceLen   = 12
	wrappedLen = 32 + keyLen + 16
	hkdfInfo   = "uptane-hil imagecrypt v1 key wrap"
)

// ErrDecrypt is returned when a ciphertext or wrapped key does not open with
// the given key (wrong key, or tampered data).
var ErrDecrypt = errors.New("imagecrypt: decryption failed (wrong key or tampered data)")

// GenerateKey makes an X25519 key pair from r (crypto/rand when nil); with a
// deterministic r (sim/seed) the same key comes out every run.
func GenerateKey(r io.Reader) (*ecdh.PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("imagecrypt: generate key: %w", err)
	}
	return ecdh.X25519().NewPrivateKey(b)
}

// ParsePublic decodes a 32-byte X25519 public key.
func ParsePublic(b []byte) (*ecdh.PublicKey, error) {
	k, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("imagecrypt: X25519 public key: %w", err)
	}
	return k, nil
}

func wrapKey(secret, ephPub, recipPub []byte) (cipher.AEAD, []byte, error) {
	salt := append(append([]byte{}, ephPub...), recipPub...)
	okm, err := hkdf.Key(sha256.New, secret, salt, hkdfInfo, keyLen+nonceLen)
	if err != nil {
		return nil, nil, err
	}
	blk, err := aes.NewCipher(okm[:keyLen])
	if err != nil {
		return nil, nil, err
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, nil, err
	}
	return g, okm[keyLen:], nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// Encrypt encrypts plaintext for the ECU whose X25519 public key is
// recipient. filename is the name the encrypted file is published under (it
// is authenticated). r supplies the image key, nonce and ephemeral key
// (crypto/rand when nil). It returns the description to put in the ECU's
// ecuIdentifiers entry and the ciphertext.
func Encrypt(r io.Reader, recipient *ecdh.PublicKey, filename string, plaintext []byte) (*meta.Encrypted, []byte, error) {
	if r == nil {
		r = rand.Reader
	}
	if recipient == nil || recipient.Curve() != ecdh.X25519() {
		return nil, nil, errors.New("imagecrypt: encrypt: recipient must be an X25519 public key")
	}
	if err := meta.ValidTargetName(filename); err != nil {
		return nil, nil, fmt.Errorf("imagecrypt: encrypt: %w", err)
	}
	buf := make([]byte, keyLen+nonceLen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, fmt.Errorf("imagecrypt: encrypt: %w", err)
	}
	imageKey, nonce := buf[:keyLen], buf[keyLen:]
	eph, err := GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	secret, err := eph.ECDH(recipient)
	if err != nil {
		return nil, nil, fmt.Errorf("imagecrypt: encrypt: ECDH: %w", err)
	}
	ephPub := eph.PublicKey().Bytes()
	w, wnonce, err := wrapKey(secret, ephPub, recipient.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("imagecrypt: encrypt: %w", err)
	}
	wrapped := w.Seal(append([]byte{}, ephPub...), wnonce, imageKey, []byte(filename))
	g, err := gcm(imageKey)
	if err != nil {
		return nil, nil, fmt.Errorf("imagecrypt: encrypt: %w", err)
	}
	ct := g.Seal(nil, nonce, plaintext, []byte(filename))
	enc := &meta.Encrypted{
		Filename:   filename,
		Length:     int64(len(ct)),
		Hashes:     meta.HashesOf(ct),
		Algorithm:  Algorithm,
		KeyWrap:    KeyWrap,
		WrappedKey: wrapped,
		Nonce:      append([]byte{}, nonce...),
	}
	return enc, ct, nil
}

// Decrypt checks the ciphertext's length and hashes against enc, unwraps the
// image key with the ECU's X25519 private key and decrypts. Any failure is
// an error naming what failed; a wrong key or tampered data is ErrDecrypt.
func Decrypt(priv *ecdh.PrivateKey, enc *meta.Encrypted, ciphertext []byte) ([]byte, error) {
	if priv == nil || enc == nil {
		return nil, errors.New("imagecrypt: decrypt: missing key or encryption metadata")
	}
	if priv.Curve() != ecdh.X25519() {
		return nil, errors.New("imagecrypt: decrypt: key is not X25519")
	}
	if enc.Algorithm != Algorithm || enc.KeyWrap != KeyWrap {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: unsupported algorithm %q / key wrap %q", enc.Filename, enc.Algorithm, enc.KeyWrap)
	}
	if err := meta.CheckHashes(ciphertext, enc.Length, enc.Hashes); err != nil {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: ciphertext: %w", enc.Filename, err)
	}
	if len(enc.WrappedKey) != wrappedLen {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: wrapped key is %d bytes, want %d", enc.Filename, len(enc.WrappedKey), wrappedLen)
	}
	if len(enc.Nonce) != nonceLen {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: nonce is %d bytes, want %d", enc.Filename, len(enc.Nonce), nonceLen)
	}
	ephPub, err := ecdh.X25519().NewPublicKey(enc.WrappedKey[:32])
	if err != nil {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: ephemeral key: %w", enc.Filename, err)
	}
	secret, err := priv.ECDH(ephPub)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: ECDH: %v", ErrDecrypt, enc.Filename, err)
	}
	w, wnonce, err := wrapKey(secret, enc.WrappedKey[:32], priv.PublicKey().Bytes())
	if err != nil {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: %w", enc.Filename, err)
	}
	imageKey, err := w.Open(nil, wnonce, enc.WrappedKey[32:], []byte(enc.Filename))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: key unwrap", ErrDecrypt, enc.Filename)
	}
	g, err := gcm(imageKey)
	if err != nil {
		return nil, fmt.Errorf("imagecrypt: decrypt %q: %w", enc.Filename, err)
	}
	pt, err := g.Open(nil, enc.Nonce, ciphertext, []byte(enc.Filename))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: image", ErrDecrypt, enc.Filename)
	}
	return pt, nil
}
