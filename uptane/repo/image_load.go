package repo

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// load reads the last published state from opts.Dir.
func (im *Image) load() error {
	dir := filepath.Join(im.opts.Dir, "metadata")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("repo: image: load: %w", err)
	}
	var rootV int64
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("repo: image: load: %w", err)
		}
		im.files[n] = b
		if v, ok := strings.CutSuffix(n, ".root.json"); ok {
			if x, err := strconv.ParseInt(v, 10, 64); err == nil && x > rootV {
				rootV = x
			}
		}
	}
	rootName := meta.VersionedName(rootV, meta.Root)
	root, err := decode[metadata.RootType](rootName, im.files[rootName])
	if err != nil {
		return err
	}
	ks, err := loadKeys(im.keyDir())
	if err != nil {
		return err
	}
	im.top = &topRoles{root: root, signers: map[string][]keys.Signer{}}
	im.top.assignSigners(ks)
	ts, err := decode[metadata.TimestampType]("timestamp.json", im.files["timestamp.json"])
	if err != nil {
		return err
	}
	im.timestamp = ts.Signed.Version
	snMeta, ok := ts.Signed.Meta["snapshot.json"]
	if !ok {
		return errors.New("repo: image: load: timestamp.json lists no snapshot.json")
	}
	im.snapshot = snMeta.Version
	snName := meta.VersionedName(im.snapshot, meta.Snapshot)
	sn, err := decode[metadata.SnapshotType](snName, im.files[snName])
	if err != nil {
		return err
	}
	for file, mf := range sn.Signed.Meta {
		role := strings.TrimSuffix(file, ".json")
		name := meta.VersionedName(mf.Version, role)
		m, err := decode[metadata.TargetsType](name, im.files[name])
		if err != nil {
			return err
		}
		im.roles[role] = m
		im.published[role] = mf.Version
	}
	if im.roles[meta.Targets] == nil {
		return errors.New("repo: image: load: snapshot lists no targets.json")
	}
	for _, role := range slices.Sorted(maps.Keys(im.roles)) {
		m := im.roles[role]
		if d := m.Signed.Delegations; d != nil {
			for _, dr := range d.Roles {
				im.parent[dr.Name] = role
				for _, id := range dr.KeyIDs {
					if s, ok := ks[id]; ok {
						im.roleSg[dr.Name] = append(im.roleSg[dr.Name], s)
					}
				}
			}
		}
		for name, tf := range m.Signed.Targets {
			tf.Path = name
			names := meta.ImageNames(name, tf.Hashes)
			if len(names) == 0 {
				return fmt.Errorf("repo: image: load: %s lists %q without hashes", role, name)
			}
			data, err := os.ReadFile(filepath.Join(im.opts.Dir, "targets", filepath.FromSlash(names[0])))
			if err != nil {
				return fmt.Errorf("repo: image: load: %w", err)
			}
			if err := meta.CheckHashes(data, tf.Length, tf.Hashes); err != nil {
				return fmt.Errorf("repo: image: load: image %q: %w", name, err)
			}
			im.images[name] = data
		}
	}
	// Every image file ever published stays served (clients may hold
	// older metadata).
	tdir := filepath.Join(im.opts.Dir, "targets")
	err = filepath.WalkDir(tdir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(tdir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		im.blobs["targets/"+filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("repo: image: load: %w", err)
	}
	im.log.Info("image repository loaded", "dir", im.opts.Dir, "root", root.Signed.Version, "snapshot", im.snapshot, "timestamp", im.timestamp)
	return nil
}
