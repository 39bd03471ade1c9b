package repo

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// SetCompatibility declares an image's dependencies and conflicts in its
// target's custom metadata (outside the SHALL-match section), in the targets
// role that lists it. The role is re-signed at the next Publish.
func (im *Image) SetCompatibility(role, name string, c *meta.Compatibility) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	m, ok := im.roles[role]
	if !ok {
		return fmt.Errorf("repo: image: no targets role %q", role)
	}
	tf, ok := m.Signed.Targets[name]
	if !ok {
		return fmt.Errorf("repo: image: role %q has no image %q", role, name)
	}
	cu, err := meta.GetCustom(tf)
	if err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	cu.Compatibility = c
	if err := meta.SetCustom(tf, cu); err != nil {
		return fmt.Errorf("repo: image: %w", err)
	}
	im.dirty[role] = true
	return nil
}
