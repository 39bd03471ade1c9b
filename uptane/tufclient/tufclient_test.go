package tufclient_test

import (
	"bytes"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/tufclient"
)

func must[T any](v T, err error) T {
	Expect(err).NotTo(HaveOccurred())
	return v
}

// server is a TUF repository built with go-tuf's metadata constructors,
// served over HTTP on 127.0.0.1: /metadata/ and /targets/ (consistent
// snapshots, hash-prefixed target names).
type server struct {
	mu    sync.Mutex
	files map[string][]byte
	srv   *httptest.Server
	keys  map[string]*keys.Private
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func (s *server) put(name string, b []byte) { s.mu.Lock(); s.files[name] = b; s.mu.Unlock() }

func sign[T metadata.Roles](m *metadata.Metadata[T], k ...keys.Signer) []byte {
	m.Signatures = nil
	Expect(meta.Sign(m, k...)).To(Succeed())
	return must(m.ToBytes(true))
}

func newServer() *server {
	s := &server{files: map[string][]byte{}, keys: map[string]*keys.Private{}}
	exp := time.Now().AddDate(0, 1, 0)
	for _, r := range []string{"root", "timestamp", "snapshot", "targets", "deleg"} {
		typ := keys.Ed25519
		if r == "snapshot" {
			typ = keys.ECDSAP256
		}
		s.keys[r] = must(keys.Generate(typ, seed.Seed(7).Reader("tuf/"+r)))
	}
	root := metadata.Root(exp)
	for _, r := range []string{"root", "timestamp", "snapshot", "targets"} {
		Expect(root.Signed.AddKey(s.keys[r].Public(), r)).To(Succeed())
	}
	targets := metadata.Targets(exp)
	a := []byte("hello from a.txt")
	tfA := must(metadata.TargetFile().FromBytes("files/a.txt", a, "sha256"))
	targets.Signed.Targets["files/a.txt"] = tfA
	targets.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{},
		Roles: []metadata.DelegatedRole{{Name: "deleg", KeyIDs: []string{}, Threshold: 1, Paths: []string{"nested/*"}}}}
	Expect(targets.Signed.AddKey(s.keys["deleg"].Public(), "deleg")).To(Succeed())
	deleg := metadata.Targets(exp)
	b := []byte("nested b")
	deleg.Signed.Targets["nested/b.txt"] = must(metadata.TargetFile().FromBytes("nested/b.txt", b, "sha256", "sha512"))
	snap := metadata.Snapshot(exp)
	snap.Signed.Meta["deleg.json"] = metadata.MetaFile(1)
	ts := metadata.Timestamp(exp)
	s.files["metadata/1.root.json"] = sign(root, s.keys["root"])
	s.files["metadata/1.targets.json"] = sign(targets, s.keys["targets"])
	s.files["metadata/1.deleg.json"] = sign(deleg, s.keys["deleg"])
	snapBytes := sign(snap, s.keys["snapshot"])
	s.files["metadata/1.snapshot.json"] = snapBytes
	ts.Signed.Meta["snapshot.json"].Hashes = meta.HashesOf(snapBytes)
	ts.Signed.Meta["snapshot.json"].Length = int64(len(snapBytes))
	s.files["metadata/timestamp.json"] = sign(ts, s.keys["timestamp"])
	for _, n := range meta.ImageNames("files/a.txt", tfA.Hashes) {
		s.files["targets/"+n] = a
	}
	for _, n := range meta.ImageNames("nested/b.txt", deleg.Signed.Targets["nested/b.txt"].Hashes) {
		s.files["targets/"+n] = b
	}
	s.srv = httptest.NewServer(s)
	DeferCleanup(s.srv.Close)
	return s
}

var _ = Describe("tuf-client (CLIENT-CLI.md of tuf-conformance)", func() {
	var (
		s                *server
		mdir, tdir, root string
		out, errb        bytes.Buffer
	)
	run := func(args ...string) int {
		out.Reset()
		errb.Reset()
		return tufclient.Main(args, &out, &errb)
	}
	BeforeEach(func() {
		s = newServer()
		Expect(s.srv.URL).To(HavePrefix("http://127.0.0.1:"))
		tmp := GinkgoT().TempDir()
		mdir, tdir, root = filepath.Join(tmp, "metadata"), filepath.Join(tmp, "targets"), filepath.Join(tmp, "root.json")
		Expect(os.WriteFile(root, s.files["metadata/1.root.json"], 0o644)).To(Succeed())
		Expect(run("--metadata-dir", mdir, "init", root)).To(Equal(0), errb.String())
		Expect(filepath.Join(mdir, "root.json")).To(BeAnExistingFile())
	})
	download := func(name string) int {
		return run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "--target-name", name,
			"--target-base-url", s.srv.URL+"/targets", "--target-dir", tdir, "download")
	}

	It("init, refresh and download (top-level and delegated targets) exit 0 and store the verified bytes", func() {
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "refresh")).To(Equal(0), errb.String())
		for _, f := range []string{"timestamp.json", "snapshot.json", "targets.json"} {
			Expect(filepath.Join(mdir, f)).To(BeAnExistingFile())
		}
		Expect(os.ReadFile(filepath.Join(mdir, "timestamp.json"))).To(Equal(s.files["metadata/timestamp.json"]))

		Expect(download("files/a.txt")).To(Equal(0), errb.String())
		Expect(os.ReadFile(strings.TrimSpace(out.String()))).To(Equal([]byte("hello from a.txt")))
		Expect(download("nested/b.txt")).To(Equal(0), errb.String())
		Expect(os.ReadFile(strings.TrimSpace(out.String()))).To(Equal([]byte("nested b")))
		Expect(filepath.Join(mdir, "deleg.json")).To(BeAnExistingFile())
		// Flags after the command work too.
		Expect(run("refresh", "--metadata-dir="+mdir, "--metadata-url="+s.srv.URL+"/metadata")).To(Equal(0), errb.String())
	})

	It("a tampered target exits 1 and stores nothing; a target no role lists exits 1", func() {
		for name, b := range s.files {
			if strings.HasSuffix(name, ".a.txt") {
				s.put(name, append(append([]byte{}, b...)[:len(b)-1], '!'))
			}
		}
		Expect(download("files/a.txt")).To(Equal(1))
		Expect(errb.String()).To(ContainSubstring("hash mismatch"))
		entries, _ := os.ReadDir(tdir)
		Expect(entries).To(BeEmpty())
		Expect(download("files/missing.txt")).To(Equal(1))
		Expect(errb.String()).To(ContainSubstring(check.ResolveDelegationsFound.String()))
	})

	It("a cached target is not downloaded again", func() {
		Expect(download("files/a.txt")).To(Equal(0), errb.String())
		for name := range s.files {
			if strings.HasPrefix(name, "targets/") {
				s.put(name, []byte("changed"))
			}
		}
		Expect(download("files/a.txt")).To(Equal(0), errb.String())
		Expect(os.ReadFile(strings.TrimSpace(out.String()))).To(Equal([]byte("hello from a.txt")))
	})

	It("refresh exits 1 on a Timestamp signed by the wrong key, keeping the trusted one", func() {
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "refresh")).To(Equal(0), errb.String())
		ts := must((&metadata.Metadata[metadata.TimestampType]{}).FromBytes(s.files["metadata/timestamp.json"]))
		ts.Signed.Version++
		s.put("metadata/timestamp.json", sign(ts, s.keys["targets"]))
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "refresh")).To(Equal(1))
		Expect(errb.String()).To(ContainSubstring(check.TimestampSignatures.String()))
		got := must((&metadata.Metadata[metadata.TimestampType]{}).FromFile(filepath.Join(mdir, "timestamp.json")))
		Expect(got.Signed.Version).To(BeEquivalentTo(1))
	})

	It("refresh exits 1 when metadata has expired (--days-in-future)", func() {
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "--days-in-future", "60", "refresh")).To(Equal(1))
		Expect(errb.String()).To(ContainSubstring(check.RootExpiry.String()))
	})

	It("usage errors exit 1; --help exits 0", func() {
		Expect(run("refresh")).To(Equal(1))
		Expect(run("--bogus", "x", "refresh")).To(Equal(1))
		Expect(run("--help")).To(Equal(0))
		Expect(out.String()).To(ContainSubstring("download"))
	})
})
