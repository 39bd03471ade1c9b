package repo

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// ImageOptions configures an Image repository.
type ImageOptions struct {
	// Dir holds the repository's state: keys/ (private keys, mode 0600),
	// metadata/ (every published metadata file) and targets/ (images, one
	// file per hash). Empty: in memory only.
	Dir   string
	Clock Clock // required
	Keys  KeyConfig
	// Expiry of each role's metadata; zero fields take DefaultExpiry.
	Expiry Expiry
	// Logger receives what the repository does (never key material).
	Logger *slog.Logger
	// Uploaders are the write credentials of the upload endpoints (PUT
	// /upload/targets/..., POST /upload/publish): one per supplier, each
	// bound to one delegated targets role ({#image_repository}: a writer is
	// authorized for an image by the chain of delegations). None: no write
	// access over HTTP. Top-level Targets is never writable over HTTP: its
	// keys are the OEM's, kept offline.
	Uploaders []Uploader
	// MaxUpload caps an uploaded image (default 64 MiB).
	MaxUpload int64
}

// Image is an Image repository ({#image_repository}).
type Image struct {
	mu     sync.Mutex
	opts   ImageOptions
	log    *slog.Logger
	top    *topRoles
	roleSg map[string][]keys.Signer // delegated role → its signers
	// targets roles: "targets" and delegated roles, working copies.
	roles     map[string]*metadata.Metadata[metadata.TargetsType]
	parent    map[string]string // delegated role → delegating role
	published map[string]int64  // targets roles: last published version
	dirty     map[string]bool
	snapshot  int64
	timestamp int64
	rootDirty []int64           // root versions made since the last Publish
	images    map[string][]byte // target name → current image bytes
	files     map[string][]byte // published metadata files
	blobs     map[string][]byte // "targets/HASH.NAME" → image bytes
}

// OpenImage opens the Image repository in opts.Dir, or creates one (new
// keys, Root version 1, and a first Publish) when the directory holds none.
func OpenImage(opts ImageOptions) (*Image, error) {
	if opts.Clock == nil {
		return nil, errors.New("repo: image: a Clock is required")
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = 64 << 20
	}
	if err := checkUploaders(opts.Uploaders); err != nil {
		return nil, err
	}
	im := &Image{opts: opts, log: opts.Logger, roleSg: map[string][]keys.Signer{},
		roles: map[string]*metadata.Metadata[metadata.TargetsType]{}, parent: map[string]string{},
		published: map[string]int64{}, dirty: map[string]bool{}, images: map[string][]byte{},
		files: map[string][]byte{}, blobs: map[string][]byte{}}
	if im.log == nil {
		im.log = discardLogger()
	}
	im.log = im.log.With("repo", meta.Image)
	if opts.Dir != "" {
		if _, err := os.Stat(filepath.Join(opts.Dir, "metadata", "timestamp.json")); err == nil {
			if err := im.load(); err != nil {
				return nil, err
			}
			return im, nil
		}
	}
	top, err := newTopRoles(opts.Keys, expires(opts.Clock, opts.Expiry.For(meta.Root)))
	if err != nil {
		return nil, err
	}
	im.top = top
	var all []keys.Signer
	for _, r := range []string{meta.Root, meta.Targets, meta.Snapshot, meta.Timestamp} {
		all = append(all, top.signers[r]...)
	}
	if err := saveKeys(im.keyDir(), im.log, all...); err != nil {
		return nil, err
	}
	im.rootDirty = []int64{1}
	im.roles[meta.Targets] = metadata.Targets(expires(opts.Clock, opts.Expiry.For(meta.Targets)))
	im.dirty[meta.Targets] = true
	if err := im.saveRoot(); err != nil {
		return nil, err
	}
	if err := im.publish(); err != nil {
		return nil, err
	}
	im.log.Info("image repository created", "dir", opts.Dir)
	return im, nil
}

func (im *Image) keyDir() string {
	if im.opts.Dir == "" {
		return ""
	}
	return filepath.Join(im.opts.Dir, "keys")
}

func (im *Image) saveRoot() error {
	b, err := encode(im.top.root)
	if err != nil {
		return err
	}
	return im.writeFile(meta.VersionedName(im.top.root.Signed.Version, meta.Root), b)
}

func (im *Image) writeFile(name string, b []byte) error {
	im.files[name] = b
	if im.opts.Dir == "" {
		return nil
	}
	dir := filepath.Join(im.opts.Dir, "metadata")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, name), b, 0o644)
}

func (im *Image) writeBlob(name string, b []byte) error {
	if im.opts.Dir == "" {
		return nil
	}
	p := filepath.Join(im.opts.Dir, "targets", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	return atomicfile.Write(p, b, 0o644)
}

// Root returns the current Root metadata, signed (the trust anchor to
// provision ECUs with).
func (im *Image) Root() []byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.files[meta.VersionedName(im.top.root.Signed.Version, meta.Root)]
}

// File returns a published metadata file ("3.root.json", "timestamp.json")
// or an image file ("targets/HASH.NAME").
func (im *Image) File(name string) ([]byte, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.file(name)
}

func (im *Image) file(name string) ([]byte, bool) {
	if strings.HasPrefix(name, "targets/") {
		b, ok := im.blobs[name]
		return b, ok
	}
	if name == meta.UnversionedName(meta.Root) {
		name = meta.VersionedName(im.top.root.Signed.Version, meta.Root)
	}
	b, ok := im.files[name]
	return b, ok
}

// Version returns the last published version of a role's metadata (0 if
// never published).
func (im *Image) Version(role string) int64 {
	im.mu.Lock()
	defer im.mu.Unlock()
	switch role {
	case meta.Root:
		return im.top.root.Signed.Version
	case meta.Snapshot:
		return im.snapshot
	case meta.Timestamp:
		return im.timestamp
	}
	return im.published[role]
}
