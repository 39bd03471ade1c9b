package verify

import (
	"errors"
	"fmt"
)

// ErrNotFound is what a Fetcher returns (or wraps) for a file the
// repository does not have. It ends the Root chain ({#check_root} step 2.2:
// "if this file is not available, the current Root metadata file is the
// latest"); anywhere else a missing file is a failure.
var ErrNotFound = errors.New("verify: file not found")

// Fetcher gives the metadata files of one repository by their repository
// file names ({#metadata_filename_rules}): "N.root.json", "timestamp.json",
// "N.snapshot.json" (or "snapshot.json" when the Root does not use
// consistent snapshots), "N.targets.json", "N.<delegated-role>.json" (the
// role name escaped once by meta.EscapeRole: a role "?" is "1.%3F.json").
// Names are URL paths relative to the repository's metadata base, already
// escaped: an HTTP fetcher appends them as they are.
//
// Fetch returns at most maxBytes+1 bytes; a fetcher may stop reading once it
// has more than maxBytes, and the verifier treats anything longer than
// maxBytes as an endless-data failure (check IDs "check_*.size"). A file the
// repository does not have is ErrNotFound (possibly wrapped).
//
// The Primary implements Fetcher over HTTP (ecus/primary); Secondaries get
// their metadata from the Primary as a set of files and use a MapFetcher.
type Fetcher interface {
	Fetch(name string, maxBytes int64) ([]byte, error)
}

// MapFetcher is a Fetcher over a set of files, name → content.
type MapFetcher map[string][]byte

// Fetch returns the named file, or ErrNotFound. It returns the whole file
// even when it is longer than maxBytes (the verifier rejects it).
func (m MapFetcher) Fetch(name string, maxBytes int64) ([]byte, error) {
	data, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return data, nil
}

// Limits are the download limits of {#check_root} (X), {#check_timestamp}
// (Y) and {#check_targets} (Z), plus bounds that keep every search finite.
// Zero fields take the defaults (DefaultLimits).
type Limits struct {
	// Root is X: the most bytes of one Root metadata file (default 64 KiB).
	Root int64
	// Timestamp is Y: the most bytes of Timestamp metadata (default 16 KiB).
	Timestamp int64
	// Snapshot is the most bytes of Snapshot metadata when the Timestamp
	// lists no length for it (default 1 MiB); otherwise the listed length is
	// the limit ({#check_snapshot} step 1).
	Snapshot int64
	// Targets is Z: the most bytes of a Targets metadata file when the
	// Snapshot lists no length for it (default 1 MiB).
	Targets int64
	// Unchecked caps a download whose size check is switched off by the
	// profile (default 64 MiB), so that a control run shows an endless-data
	// attack getting through without exhausting memory.
	Unchecked int64
	// MaxRootRotations bounds the Root chain walked in one update (default
	// 256).
	MaxRootRotations int
	// MaxDelegations bounds the delegated roles loaded while resolving one
	// image (default 32).
	MaxDelegations int
}

// DefaultLimits are the limits used for zero fields of Limits.
var DefaultLimits = Limits{
	Root:             64 << 10,
	Timestamp:        16 << 10,
	Snapshot:         1 << 20,
	Targets:          1 << 20,
	Unchecked:        64 << 20,
	MaxRootRotations: 256,
	MaxDelegations:   32,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Root > 0 {
		d.Root = l.Root
	}
	if l.Timestamp > 0 {
		d.Timestamp = l.Timestamp
	}
	if l.Snapshot > 0 {
		d.Snapshot = l.Snapshot
	}
	if l.Targets > 0 {
		d.Targets = l.Targets
	}
	if l.Unchecked > 0 {
		d.Unchecked = l.Unchecked
	}
	if l.MaxRootRotations > 0 {
		d.MaxRootRotations = l.MaxRootRotations
	}
	if l.MaxDelegations > 0 {
		d.MaxDelegations = l.MaxDelegations
	}
	return d
}
