package verify_test

import (
	"sort"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// The specs of the fixes the TUF conformance suite asked for
// (docs/verification.md, "TUF and Uptane rules"), each named after the
// check it belongs to. They run one repository's update cycle the way
// uptane/tufclient does, in the Uptane workflow unless they say TUF.

// cycle is one update cycle of one repository: check_root,
// check_timestamp, check_snapshot (unless the Timestamp names the trusted
// Snapshot) and check_targets, stopping at the first failure. The working
// copy is committed either way (as a TUF client persists each verified
// file); the Update is returned for its Used files.
func cycle(r *testRepo, tr *verify.Repo, o verify.Options) (*verify.Update, error) {
	GinkgoHelper()
	u := verify.Begin(o, tr, r.files)
	err := u.CheckRoot()
	if err == nil {
		err = u.CheckTimestamp()
	}
	if err == nil && !u.SnapshotUnchanged() {
		err = u.CheckSnapshot()
	}
	if err == nil {
		if t, s := u.Working().Targets(), u.Working().Snapshot(); t == nil || s.Signed.Meta["targets.json"].Version != t.Signed.Version {
			err = u.CheckTargets()
		}
	}
	u.Commit()
	return u, err
}

func usedNames(u *verify.Update) []string {
	var out []string
	for n := range u.Used() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// imageRepo is an Image repository with one delegation (role "A", paths
// as given) and its trusted state after a first successful cycle.
func imageRepo(paths ...string) (*testRepo, *verify.Repo) {
	GinkgoHelper()
	r := newTestRepo(meta.Image)
	r.delegate("A", paths)
	r.delegated["A"].Signed.Targets["a/file.bin"] = targetFile("a/file.bin", []byte("a"), "hw", 1)
	r.publish()
	tr := r.trusted()
	_, err := cycle(r, tr, verify.Options{Time: t0})
	Expect(err).NotTo(HaveOccurred())
	return r, tr
}

// trustA resolves a/file.bin so that role "A" is trusted too.
func trustA(r *testRepo, tr *verify.Repo) {
	GinkgoHelper()
	u := verify.Begin(verify.Options{Time: t0}, tr, r.files)
	_, err := u.ResolveDelegations("a/file.bin", "hw")
	Expect(err).NotTo(HaveOccurred())
	u.Commit()
	Expect(tr.DelegatedRoles()).To(ConsistOf("A"))
}

var _ = Describe("check_root (TUF 5.3.8 before 5.3.10)", func() {
	It("check_root.expiry: an expired newest Root fails the cycle, but every verified Root is kept, the newest last", func() {
		r, tr := imageRepo("a/*")
		r.root.Signed.Version++ // v2, valid
		r.publishRoot()
		r.root.Signed.Version++ // v3, expired
		r.root.Signed.Expires = t0.Add(-1)
		r.publishRoot()
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(check.Is(err, check.RootExpiry)).To(BeTrue(), "%v", err)
		Expect(tr.Root().Signed.Version).To(BeEquivalentTo(3))
		Expect(tr.RootVersions()).To(HaveLen(3))
		Expect(tr.Timestamp().Signed.Version).To(BeEquivalentTo(1), "nothing after the Root was updated")
	})

	It("check_root.signatures: a bad Root N+2 fails the cycle; Root N+1 stays trusted and the next cycle begins there", func() {
		r, tr := imageRepo("a/*")
		r.root.Signed.Version++
		r.publishRoot()
		r.root.Signed.Version++
		r.files["3.root.json"] = signBytes(r.root, key(keys.Ed25519, "not-a-root-key"))
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(check.Is(err, check.RootSignatures)).To(BeTrue(), "%v", err)
		Expect(tr.Root().Signed.Version).To(BeEquivalentTo(2))
		r.publishRoot() // the repository fixes version 3
		u, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(err).NotTo(HaveOccurred())
		Expect(usedNames(u)).NotTo(ContainElement("2.root.json"))
		Expect(tr.Root().Signed.Version).To(BeEquivalentTo(3))
	})
})

var _ = Describe("check_root.rotation_reset: fast-forward recovery (step 4, TUF 5.3.11 and targets recovery)", func() {
	// The repository's Targets went to version 100; it rotates the Snapshot
	// keys and starts Targets over at version 1, without role "A".
	recovery := func(p check.Profile) (*verify.Repo, error) {
		GinkgoHelper()
		r, tr := imageRepo("a/*")
		trustA(r, tr)
		r.targets.Signed.Version = 100
		r.release()
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(err).NotTo(HaveOccurred())
		Expect(tr.Targets().Signed.Version).To(BeEquivalentTo(100))
		r.rotate(meta.Snapshot, key(keys.Ed25519, "image/snapshot-2"))
		r.targets.Signed.Version = 1
		r.targets.Signed.Delegations = nil
		delete(r.delegated, "A")
		r.release()
		_, err = cycle(r, tr, verify.Options{Time: t0, Profile: p})
		return tr, err
	}
	It("drops the trusted Timestamp, Snapshot and Targets when the Snapshot keys rotate: Targets may start over", func() {
		tr, err := recovery(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(tr.Targets().Signed.Version).To(BeEquivalentTo(1))
		Expect(tr.DelegatedRoles()).To(BeEmpty())
	})
	It("without it, the old Snapshot's Targets versions block the recovery", func() {
		_, err := recovery(check.Without(check.RootRotationReset))
		Expect(check.Is(err, check.SnapshotTargetsVersions) || check.Is(err, check.SnapshotTargetsListed)).To(BeTrue(), "%v", err)
	})
	It("keeps the trusted Targets when only the Timestamp keys rotate", func() {
		r, tr := imageRepo("a/*")
		trustA(r, tr)
		r.rotate(meta.Timestamp, key(keys.Ed25519, "image/timestamp-2"))
		r.publishTimestamp()
		u := verify.Begin(verify.Options{Time: t0}, tr, r.files)
		Expect(u.CheckRoot()).To(Succeed())
		Expect(u.Working().Timestamp()).To(BeNil())
		Expect(u.Working().Snapshot()).To(BeNil())
		Expect(u.Working().Targets()).NotTo(BeNil())
		Expect(u.Working().DelegatedRoles()).To(ConsistOf("A"))
	})
	It("applies to a Root that rotated the keys even when the cycle then fails (here: the newest Root expired)", func() {
		r, tr := imageRepo("a/*")
		r.rotate(meta.Snapshot, key(keys.Ed25519, "image/snapshot-2"))
		r.root.Signed.Version++
		r.root.Signed.Expires = t0.Add(-1)
		r.publishRoot()
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(check.Is(err, check.RootExpiry)).To(BeTrue(), "%v", err)
		Expect(tr.Root().Signed.Version).To(BeEquivalentTo(3))
		Expect(tr.Timestamp()).To(BeNil())
		Expect(tr.Snapshot()).To(BeNil())
	})
})

var _ = Describe("check_timestamp", func() {
	// The repository re-signs Timestamp version 1 listing Snapshot version
	// 100, which it does not have.
	sameVersion := func(w verify.Workflow) (*verify.Repo, *verify.Update, error) {
		r, tr := imageRepo("a/*")
		r.timestamp.Signed.Meta["snapshot.json"] = &metadata.MetaFiles{Version: 100}
		r.publishTimestamp()
		u, err := cycle(r, tr, verify.Options{Time: t0, Workflow: w})
		return tr, u, err
	}
	It("check_timestamp.version, TUF workflow (5.4.3.1): a new Timestamp of the trusted version is not new: the trusted one stays and the Snapshot it lists is not fetched", func() {
		tr, u, err := sameVersion(verify.TUF)
		Expect(err).NotTo(HaveOccurred())
		Expect(tr.Timestamp().Signed.Meta["snapshot.json"].Version).To(BeEquivalentTo(1))
		Expect(usedNames(u)).To(Equal([]string{"timestamp.json"}))
	})
	It("check_timestamp.version, Uptane workflow (step 3: less than or equal): the same version is accepted, so the Snapshot it lists is looked for", func() {
		_, _, err := sameVersion(verify.Uptane)
		Expect(err).To(MatchError(ContainSubstring("100.snapshot.json")))
	})

	// Snapshot version 2 is trusted; the repository publishes Timestamp
	// version 3 listing Snapshot version 1.
	rollback := func(p check.Profile) (*testRepo, *verify.Repo, *verify.Update, error) {
		GinkgoHelper()
		r, tr := imageRepo("a/*")
		r.release()
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(err).NotTo(HaveOccurred())
		Expect(tr.Snapshot().Signed.Version).To(BeEquivalentTo(2))
		r.snapshot.Signed.Version = 1
		r.timestamp.Signed.Version = 3
		r.publish()
		u, err := cycle(r, tr, verify.Options{Time: t0, Profile: p})
		return r, tr, u, err
	}
	It("check_snapshot.version (TUF 5.4.3.2): a Timestamp listing a Snapshot older than the trusted one is refused; the trusted Timestamp stays and the Snapshot is not fetched", func() {
		_, tr, u, err := rollback(check.Conformant)
		Expect(check.Is(err, check.SnapshotVersion)).To(BeTrue(), "%v", err)
		Expect(err.(*check.Error).Role).To(Equal(meta.Timestamp))
		Expect(tr.Timestamp().Signed.Version).To(BeEquivalentTo(2))
		Expect(usedNames(u)).To(Equal([]string{"timestamp.json"}))
	})
	It("check_snapshot.version switched off: the rollback gets through", func() {
		_, tr, _, err := rollback(check.Without(check.SnapshotVersion))
		Expect(err).NotTo(HaveOccurred())
		Expect(tr.Snapshot().Signed.Version).To(BeEquivalentTo(1))
	})
})

var _ = Describe("resolve_delegations step 4.1 before step 1: a role is fetched only when its delegation applies", func() {
	search := func(w verify.Workflow, paths []string, target string) (*verify.Update, *verify.Found, error) {
		r, tr := imageRepo(paths...)
		u := verify.Begin(verify.Options{Time: t0, Workflow: w}, tr, r.files)
		f, err := u.ResolveDelegations(target, "hw")
		return u, f, err
	}
	aFile := meta.VersionedName(1, "A")
	DescribeTable("resolve_delegations.scope: a delegation whose paths do not match is skipped unfetched (TUF workflow)",
		func(paths []string, target string) {
			u, _, err := search(verify.TUF, paths, target)
			Expect(check.Is(err, check.ResolveDelegationsFound)).To(BeTrue(), "%v", err)
			Expect(u.Used()).NotTo(HaveKey(aFile))
			Expect(u.Working().DelegatedRoles()).To(BeEmpty())
		},
		Entry("* never crosses /", []string{"a/*"}, "a/b/file.bin"),
		Entry("* never crosses / (top level)", []string{"*.bin"}, "a/file.bin"),
		Entry("? is one character", []string{"a/file-?.bin"}, "a/file-10.bin"),
		Entry("matching is case-sensitive", []string{"a/*"}, "A/file.bin"),
		Entry("no pattern", []string{"b/*"}, "a/file.bin"),
	)
	It("a matching delegation is fetched and searched", func() {
		u, f, err := search(verify.TUF, []string{"a/*.bin"}, "a/file.bin")
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Role).To(Equal("A"))
		Expect(u.Used()).To(HaveKey(aFile))
	})
	It("resolve_delegations.scope, Uptane workflow: after the search failed, the failure is attributed to the scope, and the probe's roles are not trusted", func() {
		u, _, err := search(verify.Uptane, []string{"b/*"}, "a/file.bin")
		Expect(check.Is(err, check.ResolveDelegationsScope)).To(BeTrue(), "%v", err)
		Expect(u.Working().DelegatedRoles()).To(BeEmpty())
		Expect(u.Used()).NotTo(HaveKey(aFile))
	})
})

var _ = Describe("role names in file names and URLs (metadata_filename_rules)", func() {
	DescribeTable("meta.EscapeRole percent-encodes once, leaving no path separator",
		func(role, want string) { Expect(meta.EscapeRole(role)).To(Equal(want)) },
		Entry("plain", "brakes-supplier_1.x~", "brakes-supplier_1.x~"),
		Entry("?", "?", "%3F"),
		Entry("#", "#", "%23"),
		Entry("/", "/delegatedrole", "%2Fdelegatedrole"),
		Entry("..", "../delegatedrole", "..%2Fdelegatedrole"),
		Entry("%", "50%", "50%25"),
		Entry(": @ + (kept by url.PathEscape)", "a:b@c+d", "a%3Ab%40c%2Bd"),
		Entry("space and non-ASCII", "a b\u00e9", "a%20b%C3%A9"),
	)
	It("resolve_delegations.found: a delegated role named ? is fetched as 1.%3F.json, not 1.%253F.json", func() {
		r := newTestRepo(meta.Image)
		r.delegate("?", []string{"*"})
		r.delegated["?"].Signed.Targets["x"] = targetFile("x", []byte("x"), "hw", 1)
		r.publish()
		r.files["1.%3F.json"] = r.files["1.?.json"]
		delete(r.files, "1.?.json")
		tr := r.trusted()
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(err).NotTo(HaveOccurred())
		u := verify.Begin(verify.Options{Time: t0, Workflow: verify.TUF}, tr, r.files)
		f, err := u.ResolveDelegations("x", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Role).To(Equal("?"))
		Expect(f.Files).To(Equal([]string{"1.%3F.json"}))
	})
})

var _ = Describe("check_targets step 3 for a role met through two delegators (the suite's test_cached_role_is_verified_against_current_delegator)", func() {
	It("check_targets.signatures: a role already loaded through one delegator is verified again with the next delegator's keys", func() {
		r := newTestRepo(meta.Image)
		r.delegate("parent-a", []string{"team-a/*"})
		r.delegate("parent-b", []string{"team-b/*"})
		ka, kb := key(keys.Ed25519, "image/release-a"), key(keys.Ed25519, "image/release-b")
		for parent, k := range map[string]*keys.Private{"parent-a": ka, "parent-b": kb} {
			p := r.delegated[parent]
			p.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{},
				Roles: []metadata.DelegatedRole{{Name: "release", KeyIDs: []string{}, Threshold: 1, Paths: []string{"team-" + parent[len(parent)-1:] + "/*"}}}}
			must(0, p.Signed.AddKey(k.Public(), "release"))
		}
		rel := metadata.Targets(t0.AddDate(0, 3, 0))
		rel.Signed.Targets["team-a/x"] = targetFile("team-a/x", []byte("x"), "hw", 1)
		rel.Signed.Targets["team-b/y"] = targetFile("team-b/y", []byte("y"), "hw", 1)
		r.delegated["release"] = rel
		r.signers["release"] = []keys.Signer{ka} // valid through parent-a only
		r.publish()
		tr := r.trusted()
		_, err := cycle(r, tr, verify.Options{Time: t0})
		Expect(err).NotTo(HaveOccurred())
		for _, w := range []verify.Workflow{verify.Uptane, verify.TUF} {
			u := verify.Begin(verify.Options{Time: t0, Workflow: w}, tr, r.files)
			f, err := u.ResolveDelegations("team-a/x", "hw")
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Role).To(Equal("release"))
			_, err = u.ResolveDelegations("team-b/y", "hw")
			Expect(check.Is(err, check.TargetsSignatures)).To(BeTrue(), "%s workflow: %v", w, err)
			u.Commit()
			// and again from the trusted copy, in a new cycle
			u = verify.Begin(verify.Options{Time: t0, Workflow: w}, tr, r.files)
			_, err = u.ResolveDelegations("team-b/y", "hw")
			Expect(check.Is(err, check.TargetsSignatures)).To(BeTrue(), "%s workflow, trusted copy: %v", w, err)
		}
	})
})
