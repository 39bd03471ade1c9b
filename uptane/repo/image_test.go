package repo_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/repo"
)

func parseRoot(b []byte) *metadata.Metadata[metadata.RootType] {
	GinkgoHelper()
	m, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(b)
	Expect(err).NotTo(HaveOccurred())
	return m
}

func parseTargets(b []byte) *metadata.Metadata[metadata.TargetsType] {
	GinkgoHelper()
	m, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(b)
	Expect(err).NotTo(HaveOccurred())
	return m
}

// validSigs counts the valid signatures on signed by keys of a role.
func validSigs(signed any, sigs []metadata.Signature, ks map[string]*metadata.Key, ids []string) int {
	GinkgoHelper()
	payload, err := cjson.EncodeCanonical(signed)
	Expect(err).NotTo(HaveOccurred())
	return meta.CountSignatures(payload, sigs, ks, ids)
}

func mustFile(im *repo.Image, name string) []byte {
	GinkgoHelper()
	b, ok := im.File(name)
	Expect(ok).To(BeTrue(), "file %s", name)
	return b
}

func genKeys(s seed.Seed, name string, n int) []keys.Signer {
	GinkgoHelper()
	var out []keys.Signer
	r := s.Reader(name)
	for i := 0; i < n; i++ {
		k, err := keys.Generate(keys.Ed25519, r)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, k)
	}
	return out
}

func newImage(dir string, clk repo.Clock, s seed.Seed, log *slog.Logger) *repo.Image {
	GinkgoHelper()
	im, err := repo.OpenImage(repo.ImageOptions{Dir: dir, Clock: clk, Logger: log,
		Keys:   repo.KeyConfig{Rand: s.Reader("image-keys"), Thresholds: map[string]int{meta.Root: 2, meta.Targets: 2}},
		Expiry: repo.Expiry{Timestamp: 6 * time.Hour}})
	Expect(err).NotTo(HaveOccurred())
	return im
}

var _ = Describe("Image repository", func() {
	var (
		clk *testClock
		im  *repo.Image
	)
	BeforeEach(func() {
		clk = newClock(epoch)
		im = newImage("", clk, 1, nil)
	})

	It("publishes consistent-snapshot files with versions and images under every hash", Label("std:metadata_filename_rules#1", "std:metadata_filename_rules#2", "std:metadata_filename_rules#3", "std:timestamp_meta#1", "std:timestamp_meta#2", "std:timestamp_role#1", "std:timestamp_role#2"), func() {
		for _, f := range []string{"1.root.json", "1.targets.json", "1.snapshot.json", "1.timestamp.json", "timestamp.json"} {
			mustFile(im, f)
		}
		Expect(im.AddImage("ecu/fw.bin", []byte("firmware-1"), []string{"hw-a"}, 3)).To(Succeed())
		Expect(im.Publish()).To(Succeed())
		Expect(im.Version(meta.Targets)).To(BeEquivalentTo(2))
		Expect(im.Version(meta.Snapshot)).To(BeEquivalentTo(2))
		Expect(im.Version(meta.Timestamp)).To(BeEquivalentTo(2))
		tg := parseTargets(mustFile(im, "2.targets.json"))
		tf := tg.Signed.Targets["ecu/fw.bin"]
		Expect(tf).NotTo(BeNil())
		Expect(tf.Length).To(BeEquivalentTo(10))
		c, err := meta.GetCustom(tf)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Uptane).To(Equal(meta.ShallMatch{HardwareIDs: []string{"hw-a"}, ReleaseCounter: 3}))
		Expect(tf.Hashes).To(HaveKey("sha256"))
		Expect(tf.Hashes).To(HaveKey("sha512"))
		for _, alg := range []string{"sha256", "sha512"} {
			Expect(mustFile(im, "targets/ecu/"+hex.EncodeToString(tf.Hashes[alg])+".fw.bin")).To(Equal([]byte("firmware-1")))
		}
		// snapshot lists targets version 2; timestamp lists the snapshot with its hashes
		sn, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(mustFile(im, "2.snapshot.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(sn.Signed.Meta["targets.json"].Version).To(BeEquivalentTo(2))
		ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(mustFile(im, "timestamp.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(ts.Signed.Meta["snapshot.json"].VerifyLengthHashes(mustFile(im, "2.snapshot.json"))).To(Succeed())
		// expiry relative to the clock, per role
		Expect(ts.Signed.Expires).To(Equal(epoch.Add(6 * time.Hour)))
		Expect(tg.Signed.Expires).To(Equal(epoch.Add(repo.DefaultExpiry.Targets)))
		// a Publish with nothing changed keeps targets, bumps snapshot and timestamp
		clk.Advance(time.Hour)
		Expect(im.Publish()).To(Succeed())
		Expect(im.Version(meta.Targets)).To(BeEquivalentTo(2))
		Expect(im.Version(meta.Timestamp)).To(BeEquivalentTo(3))
		_, ok := im.File("3.targets.json")
		Expect(ok).To(BeFalse())
	})

	It("signs every role with its threshold of keys", Label("std:root_meta#1", "std:targets_role#1"), func() {
		root := parseRoot(im.Root())
		tg := parseTargets(mustFile(im, "1.targets.json"))
		r := root.Signed.Roles[meta.Targets]
		Expect(r.Threshold).To(Equal(2))
		Expect(validSigs(tg.Signed, tg.Signatures, root.Signed.Keys, r.KeyIDs)).To(Equal(2))
		Expect(validSigs(root.Signed, root.Signatures, root.Signed.Keys, root.Signed.Roles[meta.Root].KeyIDs)).To(Equal(2))
		// the metadata go-tuf checks itself
		Expect(root.VerifyDelegate(meta.Targets, tg)).To(Succeed())
	})

	It("makes more keys than the threshold when KeyConfig.Keys asks (a 2-of-3 Targets role) and signs with all", func() {
		im, err := repo.OpenImage(repo.ImageOptions{Clock: clk, Keys: repo.KeyConfig{Rand: seed.Seed(3).Reader("image-keys"),
			Thresholds: map[string]int{meta.Targets: 2}, Keys: map[string]int{meta.Targets: 3, meta.Snapshot: 0}}})
		Expect(err).NotTo(HaveOccurred())
		root := parseRoot(im.Root())
		r := root.Signed.Roles[meta.Targets]
		Expect(r.Threshold).To(Equal(2))
		Expect(r.KeyIDs).To(HaveLen(3))
		Expect(im.Signers(meta.Targets)).To(HaveLen(3))
		Expect(root.Signed.Roles[meta.Snapshot].KeyIDs).To(HaveLen(1))
		tg := parseTargets(mustFile(im, "1.targets.json"))
		Expect(validSigs(tg.Signed, tg.Signatures, root.Signed.Keys, r.KeyIDs)).To(Equal(3))
	})

	It("rejects image names that could traverse paths and images without hardware", Label("std:metadata_filename_rules#4"), func() {
		Expect(im.AddImage("../etc/passwd", []byte("x"), []string{"hw"}, 1)).To(MatchError(ContainSubstring("not allowed")))
		Expect(im.AddImage("fw.bin", []byte("x"), nil, 1)).To(MatchError(ContainSubstring("hardware identifier")))
	})

	Describe("delegations", func() {
		var sup, supA, supB []keys.Signer
		BeforeEach(func() {
			sup = genKeys(2, "supplier", 1)
			supA = genKeys(2, "a", 1)
			supB = genKeys(2, "b", 1)
			Expect(im.Delegate(meta.Targets, repo.Delegation{Name: "brakes", Paths: []string{"brakes/*"}, Terminating: true,
				HardwareIDs: []string{"brk-v1", "brk-v2"}, Signers: sup})).To(Succeed())
			Expect(im.DelegateMulti(meta.Targets, repo.MultiDelegation{Name: "gw-2of2", Paths: []string{"gw/*"}, Threshold: 2,
				Members: []repo.Delegation{{Name: "sup-a", Signers: supA}, {Name: "sup-b", Signers: supB}}})).To(Succeed())
		})

		It("writes normal, terminating, hardware-scoped and multi-role delegations in the Uptane format", Label("std:delegations_meta#1", "std:delegations_meta#2", "std:delegations_meta#3", "std:delegations_meta#5", "std:snapshot_meta#1", "std:snapshot_role#1", "std:targets_role#1", "std:targets_role_delegations#1", "std:targets_role_delegations#2"), func() {
			Expect(im.AddImageTo("brakes", "brakes/b.bin", []byte("brake"), []string{"brk-v2"}, 1)).To(Succeed())
			Expect(im.AddImageTo("sup-a", "gw/g.bin", []byte("gw"), []string{"gw-1"}, 1)).To(Succeed())
			Expect(im.AddImageTo("sup-b", "gw/g.bin", []byte("gw"), []string{"gw-1"}, 1)).To(Succeed())
			Expect(im.Publish()).To(Succeed())

			var raw struct {
				Signed struct {
					Delegations struct {
						Roles []map[string]any `json:"roles"`
					} `json:"delegations"`
				} `json:"signed"`
			}
			Expect(json.Unmarshal(mustFile(im, "2.targets.json"), &raw)).To(Succeed())
			roles := raw.Signed.Delegations.Roles
			Expect(roles).To(HaveLen(4))
			Expect(roles[0]["name"]).To(Equal("brakes"))
			Expect(roles[0]["terminating"]).To(BeTrue())
			Expect(roles[0]["paths"]).To(Equal([]any{"brakes/*"}))
			Expect(roles[0]["hardwareIds"]).To(Equal([]any{"brk-v1", "brk-v2"}))
			Expect(roles[1]["name"]).To(Equal("gw-2of2"))
			Expect(roles[1]["multiRole"]).To(Equal(map[string]any{"roles": []any{"sup-a", "sup-b"}, "threshold": float64(2)}))
			Expect(roles[1]["keyids"]).To(BeEmpty())
			Expect(roles[2]["name"]).To(Equal("sup-a"))
			Expect(roles[2]["paths"]).To(Equal([]any{}))

			// each supplier signs its own metadata, the Targets key does not
			top := parseTargets(mustFile(im, "2.targets.json"))
			br := parseTargets(mustFile(im, "1.brakes.json"))
			Expect(br.Signatures).To(HaveLen(1))
			Expect(br.Signatures[0].KeyID).To(Equal(sup[0].KeyID()))
			Expect(top.VerifyDelegate("brakes", br)).To(Succeed())
			sa := parseTargets(mustFile(im, "1.sup-a.json"))
			Expect(top.VerifyDelegate("sup-a", sa)).To(Succeed())
			Expect(sa.Signed.Targets).To(HaveKey("gw/g.bin"))
			sn, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(mustFile(im, "2.snapshot.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(sn.Signed.Meta).To(HaveKey("brakes.json"))
			Expect(sn.Signed.Meta).To(HaveKey("sup-b.json"))
			Expect(sn.Signed.Meta).NotTo(HaveKey("gw-2of2.json"))

			tf, err := im.Target("brakes/b.bin")
			Expect(err).NotTo(HaveOccurred())
			Expect(tf.Length).To(BeEquivalentTo(5))
		})

		It("delegates non-terminating unless asked, and lists each delegatee key once, under its key ID, with its type", Label("std:targets_role_delegations#4", "std:delegations_meta#4"), func() {
			Expect(im.Delegate(meta.Targets, repo.Delegation{Name: "body", Paths: []string{"body/*"}, Signers: genKeys(1, "body", 1)})).To(Succeed())
			Expect(im.Publish()).To(Succeed())
			top := parseTargets(mustFile(im, "2.targets.json"))
			byName := map[string]bool{}
			for _, r := range top.Signed.Delegations.Roles {
				byName[r.Name] = r.Terminating
			}
			Expect(byName).To(HaveKeyWithValue("body", false))
			Expect(byName).To(HaveKeyWithValue("sup-a", false))
			Expect(byName).To(HaveKeyWithValue("brakes", true))
			public := map[string]string{}
			for id, k := range top.Signed.Delegations.Keys {
				Expect(k.Type).NotTo(BeEmpty(), "key %s has no type", id)
				Expect(k.Scheme).NotTo(BeEmpty(), "key %s has no scheme", id)
				Expect(k.ID()).To(Equal(id), "key listed under an ID that is not its own")
				Expect(public).NotTo(HaveKey(k.Value.PublicKey), "one key under two IDs: %s and %s", public[k.Value.PublicKey], id)
				public[k.Value.PublicKey] = id
			}
			Expect(public).To(HaveLen(4)) // brakes, sup-a, sup-b, body: one key each
		})

		It("refuses writes the chain of delegations does not authorize", func() {
			err := im.AddImageTo("brakes", "gw/x.bin", []byte("x"), []string{"brk-v1"}, 1)
			Expect(errors.Is(err, repo.ErrUnauthorized)).To(BeTrue(), "%v", err)
			err = im.AddImageTo("brakes", "brakes/x.bin", []byte("x"), []string{"engine-v1"}, 1)
			Expect(errors.Is(err, repo.ErrUnauthorized)).To(BeTrue(), "hardware outside the delegation's scope: %v", err)
			err = im.AddImageTo("sup-a", "brakes/x.bin", []byte("x"), []string{"brk-v1"}, 1)
			Expect(errors.Is(err, repo.ErrUnauthorized)).To(BeTrue(), "a multi-role member outside the multi-role paths: %v", err)
			Expect(im.Delegate("nope", repo.Delegation{Name: "x", Paths: []string{"*"}, Signers: sup})).To(MatchError(ContainSubstring("no targets role")))
			Expect(im.Delegate(meta.Targets, repo.Delegation{Name: "brakes", Paths: []string{"*"}, Signers: sup})).To(MatchError(ContainSubstring("exists")))
		})

		It("rotates a supplier's key through its delegator", func() {
			Expect(im.Publish()).To(Succeed())
			nk := genKeys(3, "new-supplier", 1)
			Expect(im.RotateKeys("brakes", nk, 1)).To(Succeed())
			Expect(im.AddImageTo("brakes", "brakes/c.bin", []byte("c"), []string{"brk-v1"}, 2)).To(Succeed())
			Expect(im.Publish()).To(Succeed())
			top := parseTargets(mustFile(im, "3.targets.json"))
			br := parseTargets(mustFile(im, "2.brakes.json"))
			Expect(top.VerifyDelegate("brakes", br)).To(Succeed())
			Expect(top.Signed.Delegations.Keys).NotTo(HaveKey(sup[0].KeyID()))
		})
	})

	It("rotates Root: N+1 is signed by a threshold of the old and of the new Root keys", Label("std:root_meta#1", "std:root_role#1"), func() {
		old := parseRoot(im.Root())
		nk := genKeys(5, "new-root", 3)
		Expect(im.RotateKeys(meta.Root, nk, 2)).To(Succeed())
		Expect(im.Publish()).To(Succeed())
		r2 := parseRoot(mustFile(im, "2.root.json"))
		Expect(r2.Signed.Version).To(BeEquivalentTo(2))
		Expect(r2.Signed.Roles[meta.Root].Threshold).To(Equal(2))
		Expect(validSigs(r2.Signed, r2.Signatures, old.Signed.Keys, old.Signed.Roles[meta.Root].KeyIDs)).To(Equal(2))
		Expect(validSigs(r2.Signed, r2.Signatures, r2.Signed.Keys, r2.Signed.Roles[meta.Root].KeyIDs)).To(Equal(3))
		Expect(old.VerifyDelegate(meta.Root, r2)).To(Succeed())
		Expect(r2.VerifyDelegate(meta.Root, r2)).To(Succeed())
		Expect(im.Root()).To(Equal(mustFile(im, "root.json")))

		// rotating Timestamp (the revocation after a key compromise) re-signs it with the new key
		tk := genKeys(6, "new-ts", 1)
		Expect(im.RotateKeys(meta.Timestamp, tk, 1)).To(Succeed())
		Expect(im.Publish()).To(Succeed())
		r3 := parseRoot(mustFile(im, "3.root.json"))
		ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(mustFile(im, "timestamp.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(r3.VerifyDelegate(meta.Timestamp, ts)).To(Succeed())
		Expect(r2.VerifyDelegate(meta.Timestamp, ts)).NotTo(Succeed())
		Expect(im.RotateKeys(meta.Root, nk, 4)).To(MatchError(ContainSubstring("threshold 4 with 3 keys")))
	})

	It("gives byte-identical metadata for the same seed, clock and inputs", func() {
		a := newImage("", newClock(epoch), 9, nil)
		b := newImage("", newClock(epoch), 9, nil)
		for _, x := range []*repo.Image{a, b} {
			Expect(x.AddImage("fw.bin", []byte("v2"), []string{"hw"}, 2)).To(Succeed())
			Expect(x.Delegate(meta.Targets, repo.Delegation{Name: "s", Paths: []string{"s/*"}, Signers: genKeys(1, "s", 1)})).To(Succeed())
			Expect(x.Publish()).To(Succeed())
		}
		Expect(mustFile(a, "timestamp.json")).To(Equal(mustFile(b, "timestamp.json")))
		Expect(mustFile(a, "2.targets.json")).To(Equal(mustFile(b, "2.targets.json")))
		Expect(mustFile(a, "1.s.json")).To(Equal(mustFile(b, "1.s.json")))
	})

	It("keeps state on disk with keys 0600, never logs key material, and reloads", Label("std:image_repository#6"), func() {
		dir := GinkgoT().TempDir()
		var logBuf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		a := newImage(dir, clk, 4, log)
		sup := genKeys(4, "sup", 1)
		Expect(a.Delegate(meta.Targets, repo.Delegation{Name: "sup", Paths: []string{"s/*"}, Signers: sup})).To(Succeed())
		Expect(a.AddImageTo("sup", "s/fw.bin", []byte("supplied"), []string{"hw"}, 1)).To(Succeed())
		Expect(a.Publish()).To(Succeed())
		Expect(a.RotateKeys(meta.Root, genKeys(4, "root2", 1), 1)).To(Succeed())
		Expect(a.Publish()).To(Succeed())

		files, err := filepath.Glob(filepath.Join(dir, "keys", "*.key"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(2 + 2 + 1 + 1 + 1 + 1)) // root×2, targets×2, snapshot, timestamp, supplier, new root
		logText := logBuf.String()
		Expect(logText).To(ContainSubstring("published"))
		for _, f := range files {
			st, err := os.Stat(f)
			Expect(err).NotTo(HaveOccurred())
			Expect(st.Mode().Perm()).To(Equal(os.FileMode(0o600)), f)
			var kf struct{ Private string }
			b, _ := os.ReadFile(f)
			Expect(json.Unmarshal(b, &kf)).To(Succeed())
			body := strings.Split(strings.TrimSpace(kf.Private), "\n")[1]
			Expect(logText).NotTo(ContainSubstring(body))
		}
		Expect(logText).NotTo(ContainSubstring("PRIVATE KEY"))

		b := newImage(dir, clk, 99, nil) // a different seed: nothing is regenerated
		Expect(b.Version(meta.Root)).To(BeEquivalentTo(2))
		Expect(b.Version(meta.Targets)).To(BeEquivalentTo(2))
		Expect(b.Version(meta.Timestamp)).To(Equal(a.Version(meta.Timestamp)))
		Expect(b.Root()).To(Equal(a.Root()))
		Expect(b.Signers("sup")[0].KeyID()).To(Equal(sup[0].KeyID()))
		Expect(b.Signers(meta.Targets)).To(HaveLen(2))
		data, err := b.ImageData("s/fw.bin")
		Expect(err).NotTo(HaveOccurred())
		Expect(data).To(Equal([]byte("supplied")))
		Expect(b.AddImageTo("sup", "s/fw2.bin", []byte("two"), []string{"hw"}, 2)).To(Succeed())
		Expect(b.Publish()).To(Succeed())
		sa := parseTargets(mustFile(b, "2.sup.json"))
		top := parseTargets(mustFile(b, "2.targets.json"))
		Expect(top.VerifyDelegate("sup", sa)).To(Succeed())
		Expect(b.Version(meta.Timestamp)).To(Equal(a.Version(meta.Timestamp) + 1))
	})

	Describe("over HTTP", func() {
		const (
			tokA = "brakes-supplier-secret"
			tokB = "gateway-supplier-secret"
		)
		var (
			up *repo.Image
			do func(method, url, token string, body string) (int, string)
		)
		BeforeEach(func() {
			var err error
			up, err = repo.OpenImage(repo.ImageOptions{Clock: clk, MaxUpload: 16,
				Uploaders: []repo.Uploader{{Role: "brakes", Token: tokA}, {Role: "gw", Token: tokB}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(up.Delegate(meta.Targets, repo.Delegation{Name: "brakes", Paths: []string{"brakes/*"}, HardwareIDs: []string{"brk-v1"}, Signers: genKeys(4, "brakes", 1)})).To(Succeed())
			Expect(up.Delegate(meta.Targets, repo.Delegation{Name: "gw", Paths: []string{"gw/*"}, HardwareIDs: []string{"gw-1"}, Signers: genKeys(4, "gw", 1)})).To(Succeed())
			Expect(up.Publish()).To(Succeed())
			c := &http.Client{Transport: repo.InProcessTransport(up.Handler())}
			do = func(method, url, token string, body string) (int, string) {
				GinkgoHelper()
				req, err := http.NewRequest(method, url, strings.NewReader(body))
				Expect(err).NotTo(HaveOccurred())
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := c.Do(req)
				Expect(err).NotTo(HaveOccurred())
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
		})

		It("serves files, refuses other methods, and guards uploads with a supplier's bearer token", Label("std:image_repository#1", "std:image_repository#2", "std:image_repository#3", "std:image_repository#4"), func() {
			code, body := do("GET", "http://image/1.root.json", "", "")
			Expect(code).To(Equal(200))
			Expect([]byte(body)).To(Equal(up.Root()))
			code, _ = do("GET", "http://image/9.root.json", "", "")
			Expect(code).To(Equal(404))
			code, _ = do("GET", "http://image/../keys/x.key", "", "")
			Expect(code).To(Equal(404))
			code, _ = do("DELETE", "http://image/timestamp.json", "", "")
			Expect(code).To(Equal(405))
			code, body = do("PUT", "http://image/upload/targets/brakes/fw.bin?hardwareIds=brk-v1&releaseCounter=1", "", "data")
			Expect(code).To(Equal(401))
			Expect(body).To(ContainSubstring("bearer token"))
			code, _ = do("PUT", "http://image/upload/targets/brakes/fw.bin?hardwareIds=brk-v1&releaseCounter=1", "wrong", "data")
			Expect(code).To(Equal(401))
			code, _ = do("PUT", "http://image/upload/targets/brakes/fw.bin?hardwareIds=brk-v1&releaseCounter=1", tokA, strings.Repeat("x", 17))
			Expect(code).To(Equal(413))
			code, _ = do("PUT", "http://image/upload/targets/brakes/fw.bin?hardwareIds=brk-v1&releaseCounter=x", tokA, "data")
			Expect(code).To(Equal(400))
			code, _ = do("PUT", "http://image/upload/targets/brakes/fw.bin?hardwareIds=brk-v1&releaseCounter=1", tokA, "data")
			Expect(code).To(Equal(201))
			code, _ = do("POST", "http://image/upload/publish", tokA, "")
			Expect(code).To(Equal(204))
			Expect(up.Version("brakes")).To(BeEquivalentTo(2))
			tf, err := up.Target("brakes/fw.bin")
			Expect(err).NotTo(HaveOccurred())
			code, body = do("GET", "http://image/targets/brakes/"+hex.EncodeToString(tf.Hashes["sha256"])+".fw.bin", "", "")
			Expect(code).To(Equal(200))
			Expect(body).To(Equal("data"))
			top := parseTargets(mustFile(up, "2.targets.json"))
			br := parseTargets(mustFile(up, "2.brakes.json"))
			Expect(top.VerifyDelegate("brakes", br)).To(Succeed(), "signed with the supplier's keys, under the OEM's delegation")
		})

		It("lets a supplier publish only within its delegation: not outside its paths or hardware, not as another supplier, not as top-level Targets", Label("std:image_repository#5"), func() {
			topBefore := up.Version(meta.Targets)
			code, body := do("PUT", "http://image/upload/targets/gw/fw.bin?hardwareIds=brk-v1&releaseCounter=1", tokA, "data")
			Expect(code).To(Equal(403), "outside its paths: %s", body)
			code, body = do("PUT", "http://image/upload/targets/brakes/fw.bin?hardwareIds=gw-1&releaseCounter=1", tokA, "data")
			Expect(code).To(Equal(403), "outside its hardware identifiers: %s", body)
			code, body = do("PUT", "http://image/upload/targets/gw/fw.bin?role=gw&hardwareIds=gw-1&releaseCounter=1", tokA, "data")
			Expect(code).To(Equal(403), "as another supplier: %s", body)
			Expect(body).To(ContainSubstring(`may not write as role "gw"`))
			code, body = do("PUT", "http://image/upload/targets/fw.bin?role=targets&hardwareIds=brk-v1&releaseCounter=1", tokA, "data")
			Expect(code).To(Equal(403), "as top-level Targets: %s", body)
			code, body = do("PUT", "http://image/upload/targets/fw.bin?hardwareIds=brk-v1&releaseCounter=1", tokA, "data")
			Expect(code).To(Equal(403), "a top-level path without a role: %s", body)
			_, err := up.Target("gw/fw.bin")
			Expect(err).To(HaveOccurred(), "nothing was written")
			_, err = up.Target("fw.bin")
			Expect(err).To(HaveOccurred())

			// the other supplier's credential works for its own delegation
			code, _ = do("PUT", "http://image/upload/targets/gw/fw.bin?hardwareIds=gw-1&releaseCounter=1", tokB, "data")
			Expect(code).To(Equal(201))
			// the OEM changes top-level Targets in-process (its offline keys);
			// a supplier's publish does not sign that for it
			Expect(up.AddImage("oem.bin", []byte("oem"), []string{"hw"}, 1)).To(Succeed())
			code, _ = do("POST", "http://image/upload/publish", tokB, "")
			Expect(code).To(Equal(204))
			Expect(up.Version(meta.Targets)).To(Equal(topBefore), "top-level Targets is never signed for an uploader")
			Expect(up.Version("gw")).To(BeEquivalentTo(2))
			Expect(up.Publish()).To(Succeed())
			Expect(up.Version(meta.Targets)).To(Equal(topBefore + 1))
		})

		It("refuses credentials for top-level roles, short tokens and one token for two suppliers", func() {
			for _, us := range [][]repo.Uploader{
				{{Role: meta.Targets, Token: tokA}},
				{{Role: meta.Timestamp, Token: tokA}},
				{{Role: "brakes", Token: "short"}},
				{{Role: "brakes", Token: tokA}, {Role: "gw", Token: tokA}},
				{{Role: "", Token: tokA}},
			} {
				_, err := repo.OpenImage(repo.ImageOptions{Clock: clk, Uploaders: us})
				Expect(err).To(HaveOccurred(), "%+v", us)
			}
		})

		It("is real TUF: go-tuf v2's updater refreshes and downloads targets over HTTP", Label("std:image_repository#1"), func() {
			wall := newClock(time.Now()) // go-tuf checks expiry against the wall clock
			tr := newImage("", wall, 3, nil)
			sup := genKeys(3, "sup", 1)
			Expect(tr.Delegate(meta.Targets, repo.Delegation{Name: "sup", Paths: []string{"sup/*"}, HardwareIDs: []string{"hw"}, Signers: sup})).To(Succeed())
			Expect(tr.AddImage("fw.bin", []byte("top-level image"), []string{"hw"}, 1)).To(Succeed())
			Expect(tr.AddImageTo("sup", "sup/fw.bin", []byte("delegated image"), []string{"hw"}, 1)).To(Succeed())
			Expect(tr.Publish()).To(Succeed())
			root1 := tr.Root()
			Expect(tr.RotateKeys(meta.Root, genKeys(3, "root2", 2), 2)).To(Succeed())
			Expect(tr.RotateKeys(meta.Timestamp, genKeys(3, "ts2", 1), 1)).To(Succeed())
			Expect(tr.Publish()).To(Succeed())

			srv := httptest.NewServer(tr.Handler())
			defer srv.Close()
			Expect(srv.URL).To(HavePrefix("http://127.0.0.1:"))
			updated, data := goTUFDownload(srv.URL, root1, []string{"fw.bin", "sup/fw.bin"})
			Expect(updated).To(BeEquivalentTo(3), "the client walked Root 1 → 3")
			Expect(data).To(Equal([][]byte{[]byte("top-level image"), []byte("delegated image")}))
		})
	})
})
