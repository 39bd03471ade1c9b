package tufclient_test

import (
	"bytes"
	"fmt"
	"io"
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
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/tufclient"
)

func must[T any](v T, err error) T {
	GinkgoHelper()
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
	// requests lists the escaped paths requested, in order.
	requests []string
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
	s.requests = append(s.requests, r.URL.EscapedPath())
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func (s *server) put(name string, b []byte) { s.mu.Lock(); s.files[name] = b; s.mu.Unlock() }

func (s *server) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func sign[T metadata.Roles](m *metadata.Metadata[T], k ...keys.Signer) []byte {
	GinkgoHelper()
	m.Signatures = nil
	Expect(meta.Sign(m, k...)).To(Succeed())
	return must(m.ToBytes(true))
}

func newServer() *server {
	GinkgoHelper()
	s := &server{files: map[string][]byte{}, keys: map[string]*keys.Private{}}
	exp := time.Now().AddDate(0, 1, 0)
	for _, r := range []string{"root", "timestamp", "snapshot", "targets", "deleg", "?"} {
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
	// A role whose name must be escaped in URLs and file names.
	targets.Signed.Delegations.Roles = append(targets.Signed.Delegations.Roles,
		metadata.DelegatedRole{Name: "?", KeyIDs: []string{}, Threshold: 1, Paths: []string{"odd/*"}})
	Expect(targets.Signed.AddKey(s.keys["?"].Public(), "?")).To(Succeed())
	odd := metadata.Targets(exp)
	c := []byte("odd c")
	odd.Signed.Targets["odd/c.txt"] = must(metadata.TargetFile().FromBytes("odd/c.txt", c, "sha256"))
	deleg := metadata.Targets(exp)
	b := []byte("nested b")
	deleg.Signed.Targets["nested/b.txt"] = must(metadata.TargetFile().FromBytes("nested/b.txt", b, "sha256", "sha512"))
	snap := metadata.Snapshot(exp)
	snap.Signed.Meta["deleg.json"] = metadata.MetaFile(1)
	snap.Signed.Meta["?.json"] = metadata.MetaFile(1)
	ts := metadata.Timestamp(exp)
	s.files["metadata/1.root.json"] = sign(root, s.keys["root"])
	s.files["metadata/1.targets.json"] = sign(targets, s.keys["targets"])
	s.files["metadata/1.deleg.json"] = sign(deleg, s.keys["deleg"])
	s.files["metadata/1.?.json"] = sign(odd, s.keys["?"])
	for _, n := range meta.ImageNames("odd/c.txt", odd.Signed.Targets["odd/c.txt"].Hashes) {
		s.files["targets/"+n] = c
	}
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
		entries, _ := os.ReadDir(tdir) // absent or empty: nothing stored
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

	It("refresh exits 1 on a Timestamp signed by the wrong key, keeping the trusted one", Label("std:check_timestamp#2"), func() {
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "refresh")).To(Equal(0), errb.String())
		ts := must((&metadata.Metadata[metadata.TimestampType]{}).FromBytes(s.files["metadata/timestamp.json"]))
		ts.Signed.Version++
		s.put("metadata/timestamp.json", sign(ts, s.keys["targets"]))
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "refresh")).To(Equal(1))
		Expect(errb.String()).To(ContainSubstring(check.TimestampSignatures.String()))
		got := must((&metadata.Metadata[metadata.TimestampType]{}).FromFile(filepath.Join(mdir, "timestamp.json")))
		Expect(got.Signed.Version).To(BeEquivalentTo(1))
	})

	It("refresh exits 1 when metadata has expired (--days-in-future)", Label("std:check_root#6"), func() {
		Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "--days-in-future", "60", "refresh")).To(Equal(1))
		Expect(errb.String()).To(ContainSubstring(check.RootExpiry.String()))
	})

	It("keeps only ROLE.json files in the metadata directory: its own state file is not *.json (the suite reads every *.json as role metadata)", func() {
		Expect(download("nested/b.txt")).To(Equal(0), errb.String())
		files := must(filepath.Glob(filepath.Join(mdir, "*.json")))
		for i := range files {
			files[i] = filepath.Base(files[i])
		}
		Expect(files).To(ConsistOf("root.json", "timestamp.json", "snapshot.json", "targets.json", "deleg.json"))
		Expect(filepath.Join(mdir, tufclient.StateFile)).To(BeAnExistingFile())
	})

	It("resolve_delegations.found: a delegated role named ? is requested as 1.%3F.json (escaped once) and stored as %3F.json", func() {
		Expect(download("odd/c.txt")).To(Equal(0), errb.String())
		Expect(os.ReadFile(strings.TrimSpace(out.String()))).To(Equal([]byte("odd c")))
		Expect(s.requested()).To(ContainElement("/metadata/1.%3F.json"))
		Expect(s.requested()).NotTo(ContainElement("/metadata/1.deleg.json"), "deleg's paths do not match odd/c.txt")
		Expect(filepath.Join(mdir, "%3F.json")).To(BeAnExistingFile())
		Expect(tufclient.RoleFile("../x")).To(Equal("..%2Fx.json"))
	})

	Describe("time (faketime)", func() {
		// fakeDate puts a date on PATH that prints out.
		fakeDate := func(out string) {
			GinkgoHelper()
			dir := GinkgoT().TempDir()
			Expect(os.WriteFile(filepath.Join(dir, "date"), []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755)).To(Succeed())
			GinkgoT().Setenv("PATH", dir)
		}
		It("Now is the C library's clock as date prints it, which faketime fakes", func() {
			fakeDate("1700000000.250000000")
			Expect(tufclient.Now(io.Discard)).To(Equal(time.Unix(1700000000, 250000000)))
		})
		It("check_root.expiry: the CLI judges expiry at date's time", func() {
			fakeDate(fmt.Sprint(time.Now().AddDate(0, 2, 0).Unix()))
			Expect(run("--metadata-dir", mdir, "--metadata-url", s.srv.URL+"/metadata", "refresh")).To(Equal(1))
			Expect(errb.String()).To(ContainSubstring(check.RootExpiry.String()))
		})
		It("with FAKETIME set, a date that cannot be read is an error, not Go's clock", func() {
			fakeDate("not a time")
			GinkgoT().Setenv("FAKETIME", "+60d")
			_, err := tufclient.Now(io.Discard)
			Expect(err).To(MatchError(ContainSubstring("FAKETIME")))
		})
	})

	It("usage errors exit 1; --help exits 0", func() {
		Expect(run("refresh")).To(Equal(1))
		Expect(run("--bogus", "x", "refresh")).To(Equal(1))
		Expect(run("--help")).To(Equal(0))
		Expect(out.String()).To(ContainSubstring("download"))
	})
})
