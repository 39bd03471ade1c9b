package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Key types Generate makes. The names are the TUF keytype where it says
// enough (ed25519, rsa) and the scheme where the keytype alone does not
// name the curve (go-tuf and securesystemslib both write keytype "ecdsa"
// for P-256 and P-384 keys).
const (
	Ed25519   = metadata.KeyTypeEd25519                     // "ed25519"
	ECDSAP256 = metadata.KeyTypeECDSA_SHA2_P256             // "ecdsa": P-256, scheme ecdsa-sha2-nistp256
	ECDSAP384 = metadata.KeySchemeECDSA_SHA2_P384           // "ecdsa-sha2-nistp384": P-384
	RSA       = metadata.KeyTypeRSASSA_PSS_SHA256           // "rsa": 2048 bit, scheme rsassa-pss-sha256
	RSA3072   = metadata.KeyTypeRSASSA_PSS_SHA256 + "-3072" // "rsa-3072"
	RSA4096   = metadata.KeyTypeRSASSA_PSS_SHA256 + "-4096" // "rsa-4096"

	// ECDSAP256Compat is the older spelling of ECDSAP256 (the TUF
	// specification's keytype); Generate accepts it too.
	ECDSAP256Compat = metadata.KeyTypeECDSA_SHA2_P256_COMPAT // "ecdsa-sha2-nistp256"
)

// Types lists the key types Generate accepts, for configuration checks and
// error messages.
func Types() []string {
	return []string{Ed25519, ECDSAP256, ECDSAP256Compat, ECDSAP384, RSA, RSA3072, RSA4096}
}

// ValidType reports whether Generate accepts t ("" means ed25519).
func ValidType(t string) bool {
	if t == "" {
		return true
	}
	for _, v := range Types() {
		if v == t {
			return true
		}
	}
	return false
}

// RSA modulus sizes this package makes and accepts.
const (
	MinRSABits = 2048
	MaxRSABits = 4096
)

// Generate makes a key of the given type (one of Types; "" is ed25519) from
// r (crypto/rand when nil). With a deterministic r (sim/seed) the same key
// comes out every run, for every type: the private scalar (ECDSA), seed
// (ed25519) or primes (RSA, see GenerateRSA) are read from r, never from the
// standard library's generators, which since Go 1.26 ignore the reader.
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
	case ECDSAP256, ECDSAP256Compat:
		return generateECDSA(elliptic.P256(), r)
	case ECDSAP384:
		return generateECDSA(elliptic.P384(), r)
	case RSA:
		return GenerateRSA(2048, r)
	case RSA3072:
		return GenerateRSA(3072, r)
	case RSA4096:
		return GenerateRSA(4096, r)
	}
	return nil, fmt.Errorf("keys: unsupported key type %q (want one of %s)", keyType, strings.Join(Types(), ", "))
}

// generateECDSA draws the private scalar d from r by rejection sampling in
// [1, N-1], so a seeded r gives the same key every run.
func generateECDSA(c elliptic.Curve, r io.Reader) (*Private, error) {
	n := c.Params().N
	size := (n.BitLen() + 7) / 8
	for {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("keys: generate ecdsa %s: %w", c.Params().Name, err)
		}
		d := new(big.Int).SetBytes(b)
		if d.Sign() == 0 || d.Cmp(n) >= 0 {
			continue
		}
		k, err := ecdsa.ParseRawPrivateKey(c, d.FillBytes(make([]byte, size)))
		if err != nil {
			return nil, fmt.Errorf("keys: generate ecdsa %s: %w", c.Params().Name, err)
		}
		return FromCrypto(k)
	}
}

// GenerateRSA makes an RSA key with a modulus of exactly bits bits (2048 to
// 4096, a multiple of 16) and public exponent 65537 from r.
//
// rsa.GenerateKey ignores its reader since Go 1.26 (and was not
// reproducible with a custom reader since Go 1.20), so the primes are
// derived here: bits/2 bits for p, then bits/2 for q are read from r; in
// each the two top bits are set (so p·q has the full size) and the low bit,
// and the search steps by 2 to the next probable prime (small-prime sieve,
// then Baillie-PSW and 20 Miller-Rabin rounds with bases fixed by the
// candidate, so the search is deterministic) with gcd(e, p-1) = 1. Then
// d = e⁻¹ mod lcm(p-1, q-1) and rsa.PrivateKey.Validate checks the result.
// The same r gives the same key on every run and Go version, and exactly
// bits/8 bytes are read from r.
//
// The search costs about 0.1 s for 2048 bits and a second for 4096, so keys
// are kept per process keyed by the SHA-256 of the bytes drawn: a scenario
// run twice with one seed (conformant and control profile) or a repository
// reopened makes each key once. The cache holds secrets only in memory.
func GenerateRSA(bits int, r io.Reader) (*Private, error) {
	if bits < MinRSABits || bits > MaxRSABits || bits%16 != 0 {
		return nil, fmt.Errorf("keys: generate rsa: %d bits is not a multiple of 16 in [%d, %d]", bits, MinRSABits, MaxRSABits)
	}
	if r == nil {
		r = rand.Reader
	}
	draw := make([]byte, bits/8)
	if _, err := io.ReadFull(r, draw); err != nil {
		return nil, fmt.Errorf("keys: generate rsa: %w", err)
	}
	id := sha256.Sum256(draw)
	rsaCache.Lock()
	k, ok := rsaCache.m[id]
	rsaCache.Unlock()
	if ok {
		return FromCrypto(k)
	}
	const e = 65537
	p, err := seededPrime(draw[:bits/16], bits/2, e)
	if err != nil {
		return nil, err
	}
	q, err := seededPrime(draw[bits/16:], bits/2, e)
	if err != nil {
		return nil, err
	}
	if p.Cmp(q) == 0 {
		return nil, errors.New("keys: generate rsa: p = q (the reader repeats itself)")
	}
	n := new(big.Int).Mul(p, q)
	one := big.NewInt(1)
	pm, qm := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	lambda := new(big.Int).Mul(pm, qm)
	lambda.Div(lambda, new(big.Int).GCD(nil, nil, pm, qm))
	d := new(big.Int).ModInverse(big.NewInt(e), lambda)
	if n.BitLen() != bits || d == nil {
		return nil, fmt.Errorf("keys: generate rsa: derived primes give a %d-bit modulus without an inverse of e", n.BitLen())
	}
	k = &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("keys: generate rsa: %w", err)
	}
	k.Precompute()
	rsaCache.Lock()
	if len(rsaCache.m) >= 256 {
		clear(rsaCache.m)
	}
	rsaCache.m[id] = k
	rsaCache.Unlock()
	return FromCrypto(k)
}

var rsaCache = struct {
	sync.Mutex
	m map[[32]byte]*rsa.PrivateKey
}{m: map[[32]byte]*rsa.PrivateKey{}}

// seededPrime makes a bits-bit odd candidate with the two top bits set from
// buf (bits/8 bytes) and steps by 2 to the next probable prime p with gcd(e, p-1) = 1 (e is
// prime, so: p mod e ≠ 1). A sieve of the small odd primes skips most
// composites before the probabilistic tests.
func seededPrime(buf []byte, bits, e int) (*big.Int, error) {
	p := new(big.Int).SetBytes(buf)
	p.SetBit(p, bits-1, 1)
	p.SetBit(p, bits-2, 1)
	p.SetBit(p, 0, 1)
	res := make([]uint64, len(smallPrimes))
	m := new(big.Int)
	for i, sp := range smallPrimes {
		res[i] = m.Mod(p, big.NewInt(int64(sp))).Uint64()
	}
	re := m.Mod(p, big.NewInt(int64(e))).Uint64()
	cand := new(big.Int)
	for delta := uint64(0); delta < 1<<20; delta += 2 {
		if (re+delta)%uint64(e) == 1 {
			continue
		}
		composite := false
		for i, sp := range smallPrimes {
			if (res[i]+delta)%sp == 0 {
				composite = true
				break
			}
		}
		if composite {
			continue
		}
		cand.Add(p, new(big.Int).SetUint64(delta))
		if cand.BitLen() != bits {
			break
		}
		if cand.ProbablyPrime(0) && cand.ProbablyPrime(20) {
			return cand, nil
		}
	}
	return nil, errors.New("keys: generate rsa: no prime found near the drawn candidate")
}

// smallPrimes are the odd primes below 2^12, for seededPrime's sieve.
var smallPrimes = func() []uint64 {
	const n = 1 << 12
	composite := make([]bool, n)
	var out []uint64
	for i := 3; i < n; i += 2 {
		if composite[i] {
			continue
		}
		out = append(out, uint64(i))
		for j := i * i; j < n; j += 2 * i {
			composite[j] = true
		}
	}
	return out
}()

// FromCrypto wraps an ed25519, ECDSA (P-256 or P-384) or RSA (2048 to 4096
// bit) private key.
func FromCrypto(priv crypto.Signer) (*Private, error) {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("keys: ECDSA curve %s is not supported (want P-256 or P-384)", k.Curve.Params().Name)
		}
	case *rsa.PrivateKey:
		if b := k.N.BitLen(); b < MinRSABits || b > MaxRSABits {
			return nil, fmt.Errorf("keys: RSA key of %d bits is not supported (want %d to %d)", b, MinRSABits, MaxRSABits)
		}
	default:
		return nil, fmt.Errorf("keys: unsupported private key %T", priv)
	}
	pub, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if k, ok := priv.(*ecdsa.PrivateKey); ok && k.Curve == elliptic.P384() {
		// go-tuf labels every ECDSA key P-256; a P-384 key is keytype
		// "ecdsa", scheme "ecdsa-sha2-nistp384" (as securesystemslib
		// writes it).
		pub.Scheme = metadata.KeySchemeECDSA_SHA2_P384
	}
	id, err := pub.ID()
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return &Private{priv: priv, pub: pub, keyID: id}, nil
}
