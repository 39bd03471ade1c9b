// Package seed derives every random stream of a run from one seed. Each
// consumer asks for a named stream, so adding a consumer never shifts the
// numbers another one sees, and a seed replays the whole run.
package seed

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// Seed is the one number a run is replayed from.
type Seed uint64

func (s Seed) key(name string) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s))
	h := sha256.New()
	h.Write([]byte("uptane-hil/seed/v1\x00"))
	h.Write(b[:])
	h.Write([]byte(name))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// Rand returns the deterministic stream named name.
func (s Seed) Rand(name string) *rand.Rand { return rand.New(rand.NewChaCha8(s.key(name))) }

// Reader returns deterministic bytes for name (for key generation and nonces).
func (s Seed) Reader(name string) io.Reader { return rand.NewChaCha8(s.key(name)) }
