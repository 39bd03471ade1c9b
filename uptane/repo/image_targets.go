package repo

import (
	"fmt"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// AddImage adds an image to the top-level targets role.
func (im *Image) AddImage(name string, data []byte, hardwareIDs []string, releaseCounter uint64) error {
	return im.AddImageTo(meta.Targets, name, data, hardwareIDs, releaseCounter)
}

// AddImageTo adds an image to a targets role, after checking the chain of
// delegations authorizes that role for the name and hardware identifiers.
// The image is served, and the role re-signed, at the next Publish.
func (im *Image) AddImageTo(role, name string, data []byte, hardwareIDs []string, releaseCounter uint64) error {
	if err := meta.ValidTargetName(name); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	if len(hardwareIDs) == 0 {
		return fmt.Errorf("repo: image: %q: at least one hardware identifier is required", name)
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	m, ok := im.roles[role]
	if !ok {
		return fmt.Errorf("repo: image: no targets role %q", role)
	}
	if err := im.authorize(role, name, hardwareIDs); err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	tf := &metadata.TargetFiles{Length: int64(len(data)), Hashes: meta.HashesOf(data), Path: name}
	if err := meta.SetCustom(tf, &meta.Custom{Uptane: meta.ShallMatch{HardwareIDs: slices.Clone(hardwareIDs), ReleaseCounter: releaseCounter}}); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	m.Signed.Targets[name] = tf
	im.dirty[role] = true
	data = slices.Clone(data)
	for _, n := range meta.ImageNames(name, tf.Hashes) {
		if err := im.writeBlob(n, data); err != nil {
			return err
		}
		im.blobs["targets/"+n] = data
	}
	im.images[name] = data
	im.log.Info("image added", "role", role, "name", name, "length", len(data), "hardware_ids", hardwareIDs, "release_counter", releaseCounter)
	return nil
}

// RemoveImage removes an image from a targets role (the file stays served
// for clients holding older metadata).
func (im *Image) RemoveImage(role, name string) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	m, ok := im.roles[role]
	if !ok {
		return fmt.Errorf("repo: image: no targets role %q", role)
	}
	if _, ok := m.Signed.Targets[name]; !ok {
		return fmt.Errorf("repo: image: role %q has no image %q", role, name)
	}
	delete(m.Signed.Targets, name)
	im.dirty[role] = true
	return nil
}

// Target returns the published metadata of an image: the first role, in
// delegation order from "targets", that lists it.
func (im *Image) Target(name string) (*metadata.TargetFiles, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	tf := im.find(meta.Targets, name, 0)
	if tf == nil {
		return nil, fmt.Errorf("repo: image: no image %q", name)
	}
	c := *tf
	c.Hashes = metadata.Hashes{}
	for k, v := range tf.Hashes {
		c.Hashes[k] = slices.Clone(v)
	}
	c.Path = name
	return &c, nil
}

func (im *Image) find(role, name string, depth int) *metadata.TargetFiles {
	m := im.roles[role]
	if m == nil || depth > 32 {
		return nil
	}
	if tf, ok := m.Signed.Targets[name]; ok {
		return tf
	}
	if m.Signed.Delegations == nil {
		return nil
	}
	for _, d := range m.Signed.Delegations.Roles {
		if tf := im.find(d.Name, name, depth+1); tf != nil {
			return tf
		}
	}
	return nil
}

// ImageData returns the bytes of an image.
func (im *Image) ImageData(name string) ([]byte, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	b, ok := im.images[name]
	if !ok {
		return nil, fmt.Errorf("repo: image: no image %q", name)
	}
	return slices.Clone(b), nil
}
