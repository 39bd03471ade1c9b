package pouf

import (
	"fmt"
	"strings"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Path prefixes of the file namespace.
const (
	MetaPrefix  = "meta/"
	ImagePrefix = "image/"
)

// Path is a parsed file path: metadata ("meta/<repo>/<file>") or an image
// ("image/<target name>").
type Path struct {
	// Repo ("director" or "image") and Name ("5.targets.json",
	// "timestamp.json", "3.root.json", "2.role%2Fname.json") of a metadata
	// file.
	Repo, Name string
	// Target is the target name of an image.
	Target string
}

// IsImage reports whether the path names an image.
func (p Path) IsImage() bool { return p.Target != "" }

// String returns the path on the wire.
func (p Path) String() string {
	if p.IsImage() {
		return ImagePrefix + p.Target
	}
	return MetaPrefix + p.Repo + "/" + p.Name
}

// MetadataPath returns the path of metadata file name of repo.
func MetadataPath(repo, name string) (string, error) {
	p := MetaPrefix + repo + "/" + name
	if _, err := ParsePath(p); err != nil {
		return "", err
	}
	return p, nil
}

// ImagePath returns the path of the image with the given target name.
func ImagePath(target string) (string, error) {
	p := ImagePrefix + target
	if _, err := ParsePath(p); err != nil {
		return "", err
	}
	return p, nil
}

// ParsePath parses a path strictly: anything not produced by MetadataPath
// or ImagePath is an error.
func ParsePath(s string) (Path, error) {
	bad := func(format string, args ...any) (Path, error) {
		return Path{}, fmt.Errorf("pouf: file path %.80q: %s", s, fmt.Sprintf(format, args...))
	}
	if len(s) == 0 || len(s) > MaxPath {
		return bad("length %d, want 1..%d", len(s), MaxPath)
	}
	switch {
	case strings.HasPrefix(s, ImagePrefix):
		t := s[len(ImagePrefix):]
		if err := meta.ValidTargetName(t); err != nil {
			return bad("%v", err)
		}
		return Path{Target: t}, nil
	case strings.HasPrefix(s, MetaPrefix):
		repo, name, ok := strings.Cut(s[len(MetaPrefix):], "/")
		if !ok {
			return bad("want meta/<repository>/<file>")
		}
		if repo != meta.Director && repo != meta.Image {
			return bad("repository %q, want %q or %q", repo, meta.Director, meta.Image)
		}
		if err := validMetadataName(name); err != nil {
			return bad("%v", err)
		}
		return Path{Repo: repo, Name: name}, nil
	}
	return bad("want %s… or %s…", MetaPrefix, ImagePrefix)
}

// validMetadataName accepts "[<version>.]<role>.json": version a decimal
// without leading zeros, role a path-escaped role name (RFC 3986 pchar
// without "/", "." and "..").
func validMetadataName(name string) error {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok || base == "" {
		return fmt.Errorf("metadata file %q: want [<version>.]<role>.json", name)
	}
	role := base
	if i := strings.IndexByte(base, '.'); i > 0 && allDigits(base[:i]) {
		v := base[:i]
		if len(v) > 19 || (v[0] == '0') {
			return fmt.Errorf("metadata file %q: version %q", name, v)
		}
		role = base[i+1:]
	}
	if role == "" || role == "." || role == ".." {
		return fmt.Errorf("metadata file %q: no role name", name)
	}
	for i := 0; i < len(role); i++ {
		c := role[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
		case c == '%':
			if i+2 >= len(role) || !isHex(role[i+1]) || !isHex(role[i+2]) {
				return fmt.Errorf("metadata file %q: bad escape in role name", name)
			}
			i += 2
		default:
			return fmt.Errorf("metadata file %q: byte 0x%02X in role name", name, c)
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
