// Package repo is the server side of Uptane: the Image repository
// ({#image_repository}) and the Director repository ({#director_repository})
// with its inventory database ({#inventory_db}), built on go-tuf v2's
// metadata types and served over HTTP (docs/director-api.md).
//
// Both repositories sign through keys.Signer, so a scenario can take a
// role's signers (key compromise, Signers) and replace them (RotateKeys: a
// new Root N+1 signed by the old and the new Root keys). Every time they
// write comes from the Clock they are given; with ed25519 keys from sim/seed
// and the simulated clock, the same inputs give byte-identical metadata.
package repo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Clock is the time source of a repository (sim/clock Clocks satisfy it).
type Clock interface{ Now() time.Time }

// Expiry is how long each role's metadata is valid after it is signed.
// Zero fields take the defaults of DefaultExpiry.
type Expiry struct {
	Root      time.Duration
	Targets   time.Duration
	Delegated time.Duration // delegated targets roles (Image repository)
	Snapshot  time.Duration
	Timestamp time.Duration
}

// DefaultExpiry: Root a year, Targets and delegated roles 90 days, Snapshot
// a week, Timestamp a day.
var DefaultExpiry = Expiry{
	Root:      365 * 24 * time.Hour,
	Targets:   90 * 24 * time.Hour,
	Delegated: 90 * 24 * time.Hour,
	Snapshot:  7 * 24 * time.Hour,
	Timestamp: 24 * time.Hour,
}

func (e Expiry) withDefaults() Expiry {
	d := DefaultExpiry
	if e.Root > 0 {
		d.Root = e.Root
	}
	if e.Targets > 0 {
		d.Targets = e.Targets
	}
	if e.Delegated > 0 {
		d.Delegated = e.Delegated
	}
	if e.Snapshot > 0 {
		d.Snapshot = e.Snapshot
	}
	if e.Timestamp > 0 {
		d.Timestamp = e.Timestamp
	}
	return d
}

// For returns the validity period of role.
func (e Expiry) For(role string) time.Duration {
	e = e.withDefaults()
	switch role {
	case meta.Root:
		return e.Root
	case meta.Targets:
		return e.Targets
	case meta.Snapshot:
		return e.Snapshot
	case meta.Timestamp:
		return e.Timestamp
	}
	return e.Delegated
}

func expires(c Clock, d time.Duration) time.Time {
	return c.Now().UTC().Add(d).Truncate(time.Second)
}

// KeyConfig says how a repository makes its keys.
type KeyConfig struct {
	// Type is one of keys.Types (default keys.Ed25519): ed25519, ECDSA
	// P-256 or P-384, RSA-PSS of 2048, 3072 or 4096 bits.
	Type string
	// Rand is the source of key material (crypto/rand when nil); a
	// sim/seed Reader makes the keys of a run reproducible.
	Rand io.Reader
	// Thresholds per top-level role (default 1).
	Thresholds map[string]int
	// Keys is how many keys are made per top-level role (default, and at
	// least, its threshold): {targets: 2} with no threshold gives a
	// 1-of-2 Targets role, with Thresholds {targets: 2} a 2-of-2 one.
	Keys map[string]int
}

func (k KeyConfig) threshold(role string) int {
	if t := k.Thresholds[role]; t > 0 {
		return t
	}
	return 1
}

func (k KeyConfig) keys(role string) int {
	return max(k.Keys[role], k.threshold(role))
}

// topRoles holds a repository's Root metadata and the signers of the
// top-level roles.
type topRoles struct {
	root    *metadata.Metadata[metadata.RootType]
	signers map[string][]keys.Signer
}

func newTopRoles(kc KeyConfig, exp time.Time) (*topRoles, error) {
	root := metadata.Root(exp)
	t := &topRoles{root: root, signers: map[string][]keys.Signer{}}
	for _, role := range []string{meta.Root, meta.Targets, meta.Snapshot, meta.Timestamp} {
		n := kc.keys(role)
		for i := 0; i < n; i++ {
			k, err := keys.Generate(kc.Type, kc.Rand)
			if err != nil {
				return nil, fmt.Errorf("repo: %s key: %w", role, err)
			}
			t.signers[role] = append(t.signers[role], k)
			if err := root.Signed.AddKey(k.Public(), role); err != nil {
				return nil, fmt.Errorf("repo: %s key: %w", role, err)
			}
		}
		root.Signed.Roles[role].Threshold = kc.threshold(role)
	}
	if err := meta.Sign(root, t.signers[meta.Root]...); err != nil {
		return nil, fmt.Errorf("repo: sign root: %w", err)
	}
	return t, nil
}

// rotate makes Root N+1 in which role is signed by signers with the given
// threshold. Root N+1 is signed by the old Root keys and, when role is Root,
// by the new ones too ({#check_root} step 2.3).
func (t *topRoles) rotate(role string, signers []keys.Signer, threshold int, exp time.Time) error {
	if _, ok := t.root.Signed.Roles[role]; !ok {
		return fmt.Errorf("repo: rotate keys: %q is not a top-level role", role)
	}
	if threshold < 1 || threshold > len(signers) {
		return fmt.Errorf("repo: rotate %s keys: threshold %d with %d keys", role, threshold, len(signers))
	}
	next, err := cloneMeta(t.root)
	if err != nil {
		return err
	}
	for _, id := range append([]string(nil), next.Signed.Roles[role].KeyIDs...) {
		if err := next.Signed.RevokeKey(id, role); err != nil {
			return fmt.Errorf("repo: rotate %s keys: %w", role, err)
		}
	}
	for _, s := range signers {
		if err := next.Signed.AddKey(s.Public(), role); err != nil {
			return fmt.Errorf("repo: rotate %s keys: %w", role, err)
		}
	}
	next.Signed.Roles[role].Threshold = threshold
	next.Signed.Version++
	next.Signed.Expires = exp
	next.Signatures = nil
	old := t.signers[meta.Root]
	if err := meta.Sign(next, old...); err != nil {
		return fmt.Errorf("repo: sign root %d: %w", next.Signed.Version, err)
	}
	if role == meta.Root {
		if err := meta.Sign(next, signers...); err != nil {
			return fmt.Errorf("repo: sign root %d: %w", next.Signed.Version, err)
		}
	}
	t.root = next
	t.signers[role] = append([]keys.Signer(nil), signers...)
	return nil
}

// resignRoot makes Root N+1 with the same keys (a Root that is about to
// expire).
func (t *topRoles) resignRoot(exp time.Time) error {
	next, err := cloneMeta(t.root)
	if err != nil {
		return err
	}
	next.Signed.Version++
	next.Signed.Expires = exp
	next.Signatures = nil
	if err := meta.Sign(next, t.signers[meta.Root]...); err != nil {
		return fmt.Errorf("repo: sign root %d: %w", next.Signed.Version, err)
	}
	t.root = next
	return nil
}

// assignSigners gives each top-level role the signers among ks that the Root
// lists for it.
func (t *topRoles) assignSigners(ks map[string]keys.Signer) {
	for role, r := range t.root.Signed.Roles {
		t.signers[role] = nil
		for _, id := range r.KeyIDs {
			if s, ok := ks[id]; ok {
				t.signers[role] = append(t.signers[role], s)
			}
		}
	}
}

func cloneMeta[T metadata.Roles](m *metadata.Metadata[T]) (*metadata.Metadata[T], error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("repo: copy metadata: %w", err)
	}
	var out metadata.Metadata[T]
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("repo: copy metadata: %w", err)
	}
	return &out, nil
}

func encode[T metadata.Roles](m *metadata.Metadata[T]) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("repo: encode metadata: %w", err)
	}
	return b, nil
}

func decode[T metadata.Roles](name string, b []byte) (*metadata.Metadata[T], error) {
	var m metadata.Metadata[T]
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("repo: %s: %w", name, err)
	}
	return &m, nil
}

// saveKeys writes each *keys.Private among ss to dir/<keyid>.key (mode 0600).
// Signers that are not in-memory keys (an HSM) are not written.
func saveKeys(dir string, log *slog.Logger, ss ...keys.Signer) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("repo: key directory: %w", err)
	}
	for _, s := range ss {
		p, ok := s.(*keys.Private)
		if !ok {
			log.Info("signer is not an in-memory key; not saved", "keyid", s.KeyID())
			continue
		}
		path := filepath.Join(dir, s.KeyID()+".key")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := keys.Save(path, p); err != nil {
			return err
		}
		log.Info("key saved", "keyid", s.KeyID(), "path", path)
	}
	return nil
}

// loadKeys reads every key file of dir.
func loadKeys(dir string) (map[string]keys.Signer, error) {
	out := map[string]keys.Signer{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("repo: keys: %w", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		k, err := keys.Load(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("repo: %w", err)
		}
		out[k.KeyID()] = k
	}
	return out, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// InProcessTransport returns a RoundTripper that serves each request by
// calling h directly, with no network: the rig gives it to the Primary's
// http.Client, and attacks wrap it. The response body is buffered.
func InProcessTransport(h http.Handler) http.RoundTripper { return inProcess{h} }

type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = r.URL.RequestURI()
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	if r.RemoteAddr == "" {
		r.RemoteAddr = "in-process"
	}
	w := &recorder{header: http.Header{}}
	t.h.ServeHTTP(w, r)
	if req.Body != nil {
		req.Body.Close()
	}
	if w.code == 0 {
		w.code = http.StatusOK
	}
	body := w.buf.Bytes()
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)),
		StatusCode:    w.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
	if req.Method == http.MethodHead {
		resp.Body = http.NoBody
	}
	return resp, nil
}

type recorder struct {
	header http.Header
	code   int
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.buf.Write(b)
}

// httpError writes a plain-text error "repo: ..." with the status code.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, format+"\n", args...)
}

func serveBytes(w http.ResponseWriter, r *http.Request, ctype string, b []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
