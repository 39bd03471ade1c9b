package verify

import (
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// verifyLengthHashes is go-tuf's MetaFiles.VerifyLengthHashes with the
// hashes checked in a fixed order (by algorithm name): go-tuf ranges over
// the hash map, so with two mismatching hashes the error named either at
// random, and one seed no longer replayed a run's report byte for byte.
func verifyLengthHashes(m *metadata.MetaFiles, data []byte) error {
	if len(m.Hashes) <= 1 {
		return m.VerifyLengthHashes(data)
	}
	algs := make([]string, 0, len(m.Hashes))
	for a := range m.Hashes {
		algs = append(algs, a)
	}
	slices.Sort(algs)
	for _, a := range algs {
		one := *m
		one.Hashes = map[string]metadata.HexBytes{a: m.Hashes[a]}
		if err := one.VerifyLengthHashes(data); err != nil {
			return err
		}
	}
	return nil
}
