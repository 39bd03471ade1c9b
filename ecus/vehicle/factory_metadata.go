package vehicle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// FactoryMetadata collects, at the factory, the latest metadata of one
// repository an ECU is provisioned with ({#build_time}): timestamp.json,
// N.snapshot.json and N.targets.json, following the versions each lists,
// and for a partial-verification ECU the Targets also as "targets.json"
// (the name partial verification reads). get returns a file the repository
// serves. The ECU verifies what it is given (verify.Provision); this only
// finds the files.
func FactoryMetadata(get func(name string) ([]byte, error), partial bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	ts, err := get(meta.UnversionedName(meta.Timestamp))
	if err != nil {
		return nil, fmt.Errorf("vehicle: factory metadata: %w", err)
	}
	t, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(ts)
	if err != nil {
		return nil, fmt.Errorf("vehicle: factory metadata: timestamp.json: %w", err)
	}
	sm := t.Signed.Meta[meta.UnversionedName(meta.Snapshot)]
	if sm == nil {
		return nil, fmt.Errorf("vehicle: factory metadata: timestamp.json lists no snapshot.json")
	}
	sname := meta.VersionedName(sm.Version, meta.Snapshot)
	sb, err := get(sname)
	if err != nil {
		return nil, fmt.Errorf("vehicle: factory metadata: %w", err)
	}
	s, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(sb)
	if err != nil {
		return nil, fmt.Errorf("vehicle: factory metadata: %s: %w", sname, err)
	}
	tm := s.Signed.Meta[meta.UnversionedName(meta.Targets)]
	if tm == nil {
		return nil, fmt.Errorf("vehicle: factory metadata: %s lists no targets.json", sname)
	}
	tname := meta.VersionedName(tm.Version, meta.Targets)
	tb, err := get(tname)
	if err != nil {
		return nil, fmt.Errorf("vehicle: factory metadata: %w", err)
	}
	if partial {
		out[meta.UnversionedName(meta.Targets)] = tb
		return out, nil
	}
	out[meta.UnversionedName(meta.Timestamp)] = ts
	out[sname] = sb
	out[tname] = tb
	return out, nil
}

// factoryFiles is what an ECU with profile p and verification mode
// (full or partial) is provisioned with beyond its Roots: nothing when the
// profile lacks build_time.metadata (a control: Roots only).
func factoryFiles(p check.Profile, partial bool, director, image func(string) ([]byte, error)) (verify.FileSet, error) {
	var fs verify.FileSet
	if !p.On(check.BuildTimeMetadata) {
		return fs, nil
	}
	var err error
	if fs.Director, err = FactoryMetadata(director, partial); err != nil {
		return fs, err
	}
	if !partial && image != nil {
		if fs.Image, err = FactoryMetadata(image, false); err != nil {
			return fs, err
		}
	}
	return fs, nil
}

// HTTPGetter reads a repository's files under base over HTTP.
func HTTPGetter(c *http.Client, base string) func(string) ([]byte, error) { return httpGetter(c, base) }

func httpGetter(c *http.Client, base string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		resp, err := c.Get(base + name)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, verify.DefaultLimits.Targets+1))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s%s: HTTP %d", base, name, resp.StatusCode)
		}
		return b, nil
	}
}

// timeKeyFile holds, in an ECU process's state directory, the time
// server's public key the factory gave it.
const timeKeyFile = "time-key.json"

// TimeURL is the time server's base URL beside the Image repository's
// (BackendURLs: .../image/ → .../time/), "" when the backend has no such
// layout (a remote backend: the ECUs keep their latest attested time).
func TimeURL(imageURL string) string {
	if base, ok := strings.CutSuffix(imageURL, "/image/"); ok {
		return base + "/time/"
	}
	return ""
}

// saveTimeKey is the factory giving an ECU in its own process the time
// server's key, read from the backend beside the Image repository.
func saveTimeKey(dir string, c *http.Client, imageURL string) error {
	u := TimeURL(imageURL)
	if u == "" {
		return nil
	}
	b, err := httpGetter(c, u)("key")
	if err != nil {
		return fmt.Errorf("vehicle: factory: the time server's key: %w", err)
	}
	var k metadata.Key
	if err := json.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("vehicle: factory: the time server's key: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, timeKeyFile), b, 0o600)
}

// loadTimeKey reads the time server's key of a provisioned ECU process;
// nil when the factory had none.
func loadTimeKey(dir string) (*metadata.Key, error) {
	b, err := os.ReadFile(filepath.Join(dir, timeKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vehicle: %w", err)
	}
	var k metadata.Key
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("vehicle: %s: %w", filepath.Join(dir, timeKeyFile), err)
	}
	return &k, nil
}

// directorFile is a file the Director serves for this vehicle.
func (v *Vehicle) directorFile(name string) ([]byte, error) {
	return v.Director.File(v.Rig.Vehicle.VIN, name)
}

// imageFile is a file the Image repository serves.
func (v *Vehicle) imageFile(name string) ([]byte, error) {
	b, ok := v.Image.File(name)
	if !ok {
		return nil, fmt.Errorf("vehicle: the Image repository has no %s", name)
	}
	return b, nil
}
