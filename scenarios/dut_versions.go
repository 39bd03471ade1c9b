package scenarios

// The metadata versions a device under test may trust (issue 10, item 4):
// every metadata file that reaches the harness's forwarding Primary on the
// backend link, genuine or signed by an attacker who held a repository's
// keys, may be handed on to the DUT and trusted by it. The persistent
// backend numbers its next metadata above the highest version of each role
// seen so (repo.Director.Above, repo.Image.Above), so that no later
// scenario's genuine file carries a version the DUT already trusts.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

// seenVersions are the highest metadata versions seen on the backend link,
// by repository ("director", "image") and role.
type seenVersions map[string]repo.Versions

func versionsFile(state string) string { return filepath.Join(state, "dut-versions.json") }

func loadSeen(state string) (seenVersions, error) {
	s := seenVersions{}
	b, err := os.ReadFile(versionsFile(state))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scenarios: the metadata versions the DUT may trust: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("scenarios: the metadata versions the DUT may trust, %s: %w (it lists the highest version of each role the harness's Primary was given; without it the backend may reuse a version the DUT trusts)", versionsFile(state), err)
	}
	return s, nil
}

// SeenVersions reads, from the state directory of runs against a device
// under test, the highest metadata version of each role the harness's
// Primary was given on the backend link, by repository ("director",
// "image") and role: the DUT may trust them, so the persistent backend
// numbers its next metadata above them, and they only go up from run to
// run. None yet: an empty map.
func SeenVersions(state string) (map[string]map[string]int64, error) {
	s, err := loadSeen(state)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int64{}
	for r, vs := range s {
		out[r] = maps.Clone(map[string]int64(vs))
	}
	return out, nil
}

func saveSeen(state string, s seenVersions) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("scenarios: %w", err)
	}
	return atomicfile.Write(versionsFile(state), append(b, '\n'), 0o600)
}

// merge raises s to the versions of o.
func (s seenVersions) merge(o seenVersions) {
	for r, vs := range o {
		if s[r] == nil {
			s[r] = repo.Versions{}
		}
		for role, n := range vs {
			s[r][role] = max(s[r][role], n)
		}
	}
}

// maxMetadata bounds a metadata file the watch reads (an endless-data
// attack's file is handed on unread beyond it).
const maxMetadata = 1 << 20

// versionWatch notes the version of every metadata file the Primary is
// given on the backend link (after the man in the middle).
type versionWatch struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen seenVersions
}

func newVersionWatch(next http.RoundTripper) *versionWatch {
	return &versionWatch{next: next, seen: seenVersions{}}
}

// Seen returns a copy of what the watch has seen.
func (w *versionWatch) Seen() seenVersions {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := seenVersions{}
	for r, vs := range w.seen {
		out[r] = maps.Clone(vs)
	}
	return out
}

func (w *versionWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err != nil || resp == nil || resp.StatusCode != http.StatusOK || req.Method != http.MethodGet || resp.Body == nil {
		return resp, err
	}
	p := strings.TrimPrefix(req.URL.Path, "/")
	repoName, _, _ := strings.Cut(p, "/")
	name := path.Base(p)
	if (repoName != meta.Director && repoName != meta.Image) || !strings.HasSuffix(name, ".json") || strings.Contains(p, "/targets/") {
		return resp, nil
	}
	head, rerr := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
	if len(head) > maxMetadata || rerr != nil {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(head))
	if role, v, ok := metadataVersion(name, head); ok {
		w.mu.Lock()
		if w.seen[repoName] == nil {
			w.seen[repoName] = repo.Versions{}
		}
		w.seen[repoName][role] = max(w.seen[repoName][role], v)
		w.mu.Unlock()
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// metadataVersion is the role and version of a metadata file named name:
// the type it says it is, a targets file's role from its name
// ("3.targets.json", "2.supplier-a.json").
func metadataVersion(name string, b []byte) (string, int64, bool) {
	var m struct {
		Signed struct {
			Type    string `json:"_type"`
			Version int64  `json:"version"`
		} `json:"signed"`
	}
	if json.Unmarshal(b, &m) != nil || m.Signed.Version <= 0 {
		return "", 0, false
	}
	role := m.Signed.Type
	switch role {
	case meta.Root, meta.Snapshot, meta.Timestamp:
	case meta.Targets:
		base := strings.TrimSuffix(name, ".json")
		if n, rest, ok := strings.Cut(base, "."); ok {
			if _, err := strconv.ParseInt(n, 10, 64); err == nil {
				base = rest
			}
		}
		role = base
	default:
		return "", 0, false
	}
	return role, m.Signed.Version, true
}

// aboveSeen has the backend of v number its next metadata above what the
// DUT may trust (seen), and re-publish the Image repository's metadata
// near its expiry at the harness's clock (which advance steps move
// forward across scenarios; the Director re-signs on demand).
func aboveSeen(v *vehicle.Vehicle, seen seenVersions) error {
	if _, err := v.Director.Above(v.Rig.Vehicle.VIN, seen[meta.Director]); err != nil {
		return fmt.Errorf("scenarios: the Director's versions above those the DUT may trust: %w", err)
	}
	if _, err := v.Image.Above(seen[meta.Image]); err != nil {
		return fmt.Errorf("scenarios: the Image repository's versions above those the DUT may trust: %w", err)
	}
	if _, err := v.Image.Fresh(); err != nil {
		return fmt.Errorf("scenarios: the Image repository's metadata near its expiry: %w", err)
	}
	return nil
}
