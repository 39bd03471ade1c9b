// Package tufclient is a plain TUF client built on uptane/verify: one
// repository (verified like an Uptane Image repository, no Director), with
// the command-line interface of the TUF conformance suite's client under
// test (theupdateframework/tuf-conformance, CLIENT-CLI.md):
//
//	<client> --metadata-dir DIR init TRUSTED_ROOT
//	<client> --metadata-dir DIR --metadata-url URL refresh
//	<client> --metadata-dir DIR --metadata-url URL --target-name PATH \
//	         --target-base-url URL --target-dir DIR download
//
// Flags may come before or after the command. Exit code 0 is success, 1
// failure. Trusted metadata is kept in DIR under unversioned names
// (root.json, timestamp.json, snapshot.json, targets.json, ROLE.json) plus
// the verifier's own state file.
package tufclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// StateFile is the verifier's trusted state in the metadata directory.
const StateFile = ".uptane-hil-trusted"

// HTTPFetcher is a verify.Fetcher over HTTP for one repository: GET
// Base/name, name appended as it is (verify's file names are already
// escaped, meta.EscapeRole), at most maxBytes+1 bytes read, 404 and 403
// reported as verify.ErrNotFound. Client should have a Timeout.
type HTTPFetcher struct {
	Base   string
	Client *http.Client
}

// Fetch implements verify.Fetcher.
func (h *HTTPFetcher) Fetch(name string, maxBytes int64) ([]byte, error) {
	u := strings.TrimRight(h.Base, "/") + "/" + name
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Get(u)
	if err != nil {
		return nil, fmt.Errorf("tufclient: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: GET %s: HTTP %d", verify.ErrNotFound, u, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("tufclient: GET %s: HTTP %d", u, resp.StatusCode)
	}
	if maxBytes < 0 {
		maxBytes = 0
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tufclient: GET %s: %w", u, err)
	}
	return data, nil
}

// Client is a TUF client of one repository.
type Client struct {
	MetadataDir string
	MetadataURL string
	// HTTP is used for every request (default: 30 s timeout).
	HTTP *http.Client
	// Options: profile, limits and the time metadata expiry is judged at.
	Options verify.Options
}

// Init installs the trusted root: TRUSTED_ROOT is copied to
// METADATA_DIR/root.json; no request is made.
func Init(metadataDir, trustedRoot string) error {
	b, err := os.ReadFile(trustedRoot)
	if err != nil {
		return fmt.Errorf("tufclient: init: %w", err)
	}
	if err := os.MkdirAll(metadataDir, 0o755); err != nil {
		return fmt.Errorf("tufclient: init: %w", err)
	}
	os.Remove(filepath.Join(metadataDir, StateFile))
	return atomicfile.Write(filepath.Join(metadataDir, "root.json"), b, 0o644)
}

func (c *Client) fetcher(base string) *HTTPFetcher {
	h := c.HTTP
	if h == nil {
		h = &http.Client{Timeout: 30 * time.Second}
	}
	return &HTTPFetcher{Base: base, Client: h}
}

// load returns the trusted state: the state file, or a new one from
// root.json after init.
func (c *Client) load() (*verify.Repo, error) {
	if r, err := verify.LoadRepoFile(filepath.Join(c.MetadataDir, StateFile)); err == nil {
		return r, nil
	}
	root, err := os.ReadFile(filepath.Join(c.MetadataDir, "root.json"))
	if err != nil {
		return nil, fmt.Errorf("tufclient: no trusted root (run init): %w", err)
	}
	return verify.NewRepo(meta.Image, root)
}

// RoleFile is the file name of role's trusted metadata in the metadata
// directory: "root.json", ..., and for a delegated role its name escaped
// once by meta.EscapeRole ("%3F.json" for "?", "..%2Fx.json" for "../x"),
// so that every role has one safe name with no path separator.
func RoleFile(role string) string { return meta.UnversionedName(meta.EscapeRole(role)) }

// persist writes the trusted state and the unversioned metadata files, and
// removes the metadata files of roles no longer trusted (a fast-forward
// recovery drops Timestamp, Snapshot and Targets).
func (c *Client) persist(r *verify.Repo) error {
	if err := r.Save(filepath.Join(c.MetadataDir, StateFile)); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, role := range append([]string{meta.Root, meta.Timestamp, meta.Snapshot, meta.Targets}, r.DelegatedRoles()...) {
		b := r.Raw(role)
		if b == nil {
			continue
		}
		keep[RoleFile(role)] = true
		if err := atomicfile.Write(filepath.Join(c.MetadataDir, RoleFile(role)), b, 0o644); err != nil {
			return fmt.Errorf("tufclient: %w", err)
		}
	}
	stale, err := filepath.Glob(filepath.Join(c.MetadataDir, "*.json"))
	if err != nil {
		return fmt.Errorf("tufclient: %w", err)
	}
	for _, p := range stale {
		if keep[filepath.Base(p)] {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tufclient: %w", err)
		}
	}
	return nil
}

// Refresh updates the top-level metadata by the TUF client workflow, with
// uptane/verify's check_root, check_timestamp, check_snapshot and
// check_targets. Each procedure that passed is kept even when a later one
// fails (as TUF persists each verified file).
func (c *Client) Refresh() error {
	_, err := c.refresh()
	return err
}

func (c *Client) refresh() (*verify.Repo, error) {
	r, err := c.load()
	if err != nil {
		return nil, err
	}
	u := verify.Begin(c.Options, r, c.fetcher(c.MetadataURL))
	err = topLevel(u)
	u.Commit()
	if perr := c.persist(r); perr != nil && err == nil {
		err = perr
	}
	return r, err
}

func topLevel(u *verify.Update) error {
	if err := u.CheckRoot(); err != nil {
		return err
	}
	if err := u.CheckTimestamp(); err != nil {
		return err
	}
	if !u.SnapshotUnchanged() {
		if err := u.CheckSnapshot(); err != nil {
			return err
		}
	}
	w := u.Working()
	if t, s := w.Targets(), w.Snapshot(); t != nil && s != nil {
		if m := s.Signed.Meta["targets.json"]; m != nil && m.Version == t.Signed.Version {
			return nil // the trusted Targets is current
		}
	}
	return u.CheckTargets()
}

// Download refreshes, finds targetName by delegation resolution, and
// stores the verified file in targetDir (under its path-escaped name). A
// file already there with the right length and hashes is not downloaded
// again. It returns the local path.
func (c *Client) Download(targetName, targetBaseURL, targetDir string) (string, error) {
	r, err := c.refresh()
	if err != nil {
		return "", err
	}
	u := verify.Begin(c.Options, r, c.fetcher(c.MetadataURL))
	found, err := u.ResolveDelegations(targetName, "")
	u.Commit()
	if perr := c.persist(r); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return "", err
	}
	if found == nil {
		return "", fmt.Errorf("tufclient: no metadata for %q", targetName)
	}
	tf := found.Target
	local := url.PathEscape(targetName)
	if local == "" || local == "." || local == ".." {
		return "", fmt.Errorf("tufclient: target name %q cannot be stored", targetName)
	}
	path := filepath.Join(targetDir, local)
	if b, err := os.ReadFile(path); err == nil && meta.CheckHashes(b, tf.Length, tf.Hashes) == nil {
		return path, nil
	}
	remote := targetName
	if r.Root().Signed.ConsistentSnapshot && len(tf.Hashes) > 0 {
		remote = meta.ImageNames(targetName, tf.Hashes)[0]
	}
	parts := strings.Split(remote, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	data, err := c.fetcher(targetBaseURL).Fetch(strings.Join(parts, "/"), tf.Length)
	if err != nil {
		return "", err
	}
	if int64(len(data)) > tf.Length {
		return "", fmt.Errorf("tufclient: target %q: more than the %d bytes its metadata lists", targetName, tf.Length)
	}
	if err := meta.CheckHashes(data, tf.Length, tf.Hashes); err != nil {
		return "", fmt.Errorf("tufclient: target %q: %w", targetName, err)
	}
	if err := os.MkdirAll(targetDir, 0o755); err != nil {
		return "", fmt.Errorf("tufclient: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return "", fmt.Errorf("tufclient: %w", err)
	}
	return path, nil
}

// Now is the current time of this process as the C library sees it: the
// output of `date +%s.%N`. The conformance suite runs the client under
// faketime (LD_PRELOAD libfaketime), which changes the C library's clock
// and so what date prints, but not a Go binary's own clock. Only the CLI
// reads a clock; the library takes Options.Time from its caller. Without a
// working date Go's clock is used, unless FAKETIME is set (then the faked
// time cannot be known and Now fails).
func Now(stderr io.Writer) (time.Time, error) {
	out, err := exec.Command("date", "+%s.%N").Output()
	if err == nil {
		var t time.Time
		if t, err = parseUnix(strings.TrimSpace(string(out))); err == nil {
			return t, nil
		}
	}
	if os.Getenv("FAKETIME") != "" {
		return time.Time{}, fmt.Errorf("FAKETIME is set but the faked time cannot be read from date: %v", err)
	}
	fmt.Fprintf(stderr, "tuf-client: date +%%s.%%N failed (%v); using Go's clock\n", err)
	return time.Now(), nil
}

// parseUnix parses "SECONDS.NANOSECONDS" as printed by date +%s.%N.
func parseUnix(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("date printed %q, not seconds since the epoch", s)
	}
	var nsec int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("date printed %q, not seconds since the epoch", s)
		}
		nsec = n
	}
	return time.Unix(secs, nsec), nil
}

const usage = `usage: tuf-client [flags] init TRUSTED_ROOT
       tuf-client [flags] refresh
       tuf-client [flags] download

The client under test of the TUF conformance suite (CLIENT-CLI.md), on
uptane-hil's Uptane verifier. Flags may come before or after the command.

flags:
  --metadata-dir DIR       trusted metadata directory (all commands)
  --metadata-url URL       repository metadata URL (refresh, download)
  --target-name PATH       TUF target path (download)
  --target-base-url URL    repository targets URL (download)
  --target-dir DIR         where downloaded targets are stored (download)
  --trusted-root FILE      the trusted root (init; or give it as argument)
  --days-in-future N       judge expiry N days after now (default 0)
  --timeout DURATION       per-request HTTP timeout (default 30s)

exit status: 0 success, 1 failure.
`

// Main runs the CLI with args (without the program name) and returns the
// exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	flags := map[string]string{}
	known := map[string]bool{"metadata-dir": true, "metadata-url": true, "target-name": true, "target-base-url": true,
		"target-dir": true, "trusted-root": true, "days-in-future": true, "timeout": true}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "--help" || a == "help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		name, val, has := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			fmt.Fprintf(stderr, "tuf-client: unknown flag %s\n%s", a, usage)
			return 1
		}
		if !has {
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "tuf-client: flag %s needs a value\n", a)
				return 1
			}
			i++
			val = args[i]
		}
		flags[name] = val
	}
	if len(pos) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	need := func(names ...string) bool {
		for _, n := range names {
			if flags[n] == "" {
				fmt.Fprintf(stderr, "tuf-client %s: --%s is required\n", pos[0], n)
				return false
			}
		}
		return true
	}
	now, err := Now(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tuf-client: %v\n", err)
		return 1
	}
	if d := flags["days-in-future"]; d != "" {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err != nil {
			fmt.Fprintf(stderr, "tuf-client: --days-in-future %q: not a number\n", d)
			return 1
		}
		now = now.AddDate(0, 0, n)
	}
	timeout := 30 * time.Second
	if t := flags["timeout"]; t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			fmt.Fprintf(stderr, "tuf-client: --timeout: %v\n", err)
			return 1
		}
		timeout = d
	}
	c := &Client{MetadataDir: flags["metadata-dir"], MetadataURL: flags["metadata-url"],
		HTTP: &http.Client{Timeout: timeout}, Options: verify.Options{Time: now, Workflow: verify.TUF}}
	switch pos[0] {
	case "init":
		root := flags["trusted-root"]
		if len(pos) > 1 {
			root = pos[1]
		}
		if !need("metadata-dir") {
			return 1
		}
		if root == "" {
			fmt.Fprintln(stderr, "tuf-client init: the trusted root file is required")
			return 1
		}
		err = Init(c.MetadataDir, root)
	case "refresh":
		if !need("metadata-dir", "metadata-url") {
			return 1
		}
		err = c.Refresh()
	case "download":
		if !need("metadata-dir", "metadata-url", "target-name", "target-base-url", "target-dir") {
			return 1
		}
		var path string
		path, err = c.Download(flags["target-name"], flags["target-base-url"], flags["target-dir"])
		if err == nil {
			fmt.Fprintln(stdout, path)
		}
	default:
		fmt.Fprintf(stderr, "tuf-client: unknown command %q\n%s", pos[0], usage)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "tuf-client %s: %v\n", pos[0], err)
		return 1
	}
	return 0
}
