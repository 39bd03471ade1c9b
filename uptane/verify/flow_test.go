package verify_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

var _ = Describe("check_root", func() {
	It("step 2: walks a chain of rotations 1 → 2 → 3 (ECDSA then ed25519 root keys) and step 3 checks the latest", Label("std:check_root#5"), func() {
		v := newVehicle(1)
		v.dir.rotate(meta.Root, key(keys.ECDSAP256, "director/root-2"))
		v.dir.rotate(meta.Root, key(keys.Ed25519, "director/root-3"))
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(v.tDir.Root().Signed.Version).To(BeEquivalentTo(3))
		Expect(v.tDir.RootVersions()).To(HaveLen(3))
	})

	It("step 2.3: a threshold-2 Root needs two signatures of the old Root's keys", Label("std:check_root#3"), func() {
		v := newVehicle(1)
		k2 := key(keys.ECDSAP256, "director/root-b")
		must(0, v.dir.root.Signed.AddKey(k2.Public(), meta.Root))
		v.dir.root.Signed.Roles[meta.Root].Threshold = 2
		v.dir.signers[meta.Root] = append(v.dir.signers[meta.Root], k2)
		v.dir.root.Signed.Version++
		v.dir.publishRoot()
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		// Version 3 signed by only one of the two keys.
		v.dir.root.Signed.Version++
		v.dir.files["3.root.json"] = signBytes(v.dir.root, v.dir.signers[meta.Root][0])
		_, err = v.verifyPrimary(check.Conformant)
		Expect(check.Is(err, check.RootSignatures)).To(BeTrue(), "%v", err)
	})

	Describe("step 4: Timestamp and Snapshot keys rotated → fast-forward recovery", func() {
		// The attacker had the Timestamp key and pushed version 1000; the
		// repository rotates the Timestamp key and publishes version 2.
		fastForward := func(p check.Profile) (*vehicle, error) {
			GinkgoHelper()
			v := newVehicle(1)
			_, err := v.verifyPrimary(check.Conformant)
			Expect(err).NotTo(HaveOccurred())
			good := v.dir.timestamp.Signed.Version
			v.dir.timestamp.Signed.Version = 1000
			v.dir.publishTimestamp()
			_, err = v.verifyPrimary(check.Conformant)
			Expect(err).NotTo(HaveOccurred())
			Expect(v.tDir.Timestamp().Signed.Version).To(BeEquivalentTo(1000))
			v.dir.rotate(meta.Timestamp, key(keys.ECDSAP256, "director/timestamp-2"))
			v.dir.timestamp.Signed.Version = good + 1
			v.dir.targets.Signed.Version++
			v.dir.snapshot.Signed.Version++
			v.dir.publish()
			v.o.Profile = p
			_, err = v.verifyPrimary(p)
			return v, err
		}
		It("deletes the trusted Timestamp and Snapshot, so the update succeeds", Label("std:check_root#7"), func() {
			v, err := fastForward(check.Conformant)
			Expect(err).NotTo(HaveOccurred())
			Expect(v.tDir.Timestamp().Signed.Version).To(BeEquivalentTo(2))
		})
		It("with check_root.rotation_reset switched off, the ECU stays frozen by the rollback check", Label("std:check_root#7"), func() {
			_, err := fastForward(check.Without(check.RootRotationReset))
			Expect(check.Is(err, check.TimestampVersion)).To(BeTrue(), "%v", err)
		})
	})
})

var _ = Describe("full verification", func() {
	It("step 4: an unchanged Director Snapshot means no new updates (and the new Timestamp is trusted)", Label("std:full_verification#8"), func() {
		v := newVehicle(2)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		v.dir.timestamp.Signed.Version++
		v.dir.publishTimestamp()
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Stopped).To(Equal(verify.NoNewUpdates))
		Expect(res.Targets).To(BeEmpty())
		Expect(v.tDir.Timestamp().Signed.Version).To(BeEquivalentTo(2))
		Expect(res.Used.Director).To(HaveKey("timestamp.json"))
		Expect(res.Used.Director).NotTo(HaveKey("2.snapshot.json"))
	})

	It("after a step-4 stop, Pending names the verified targets not installed yet; none once installed, none when the trusted Targets expired", func() {
		v := newVehicle(2)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Targets).To(HaveLen(3))
		// BRK1 installed its image; BRK2 lost power before it did
		v.installed = map[string]*metadata.TargetFiles{"PRI": res.Targets["PRI"].Director, "BRK1": res.Targets["BRK1"].Director}
		v.dir.timestamp.Signed.Version++
		v.dir.publishTimestamp()
		res, err = v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Stopped).To(Equal(verify.NoNewUpdates))
		pend := verify.Pending(v.o, v.primary(), v.tDir)
		Expect(pend).To(HaveLen(1))
		Expect(pend).To(HaveKey("BRK2"))
		Expect(pend["BRK2"].Name).To(Equal("brakes/brk2.bin"))
		Expect(pend["BRK2"].Director.Hashes).To(Equal(meta.HashesOf(v.images["brakes/brk2.bin"])))
		Expect(pend["BRK2"].Custom.Uptane.ReleaseCounter).To(BeEquivalentTo(5))
		// a Secondary's scope: only its own target
		Expect(verify.Pending(v.o, verify.Scope{ECUs: []string{"BRK1"}, Installed: v.installed}, v.tDir)).To(BeEmpty())
		Expect(verify.Pending(v.o, verify.Scope{ECUs: []string{"BRK2"}, Installed: v.installed}, v.tDir)).To(HaveKey("BRK2"))
		// installed: nothing pending
		v.installed["BRK2"] = pend["BRK2"].Director
		Expect(verify.Pending(v.o, v.primary(), v.tDir)).To(BeEmpty())
		// expired trusted Targets: nothing is resumed from them
		delete(v.installed, "BRK2")
		late := v.o
		late.Time = v.tDir.Targets().Signed.Expires
		Expect(verify.Pending(late, v.primary(), v.tDir)).To(BeEmpty())
	})

	It("step 6: nothing new to install means no new targets, and the Image repository is not contacted", Label("std:full_verification#10"), func() {
		v := newVehicle(2)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Targets).To(HaveLen(3))
		v.installed = map[string]*metadata.TargetFiles{}
		for ecu, t := range res.Targets {
			v.installed[ecu] = t.Director
		}
		v.dir.targets.Signed.Version++
		v.dir.release()
		img := v.img.files
		v.img.files = verify.MapFetcher{} // any request would fail
		res, err = v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Stopped).To(Equal(verify.NoNewTargets))
		v.img.files = img
		// A new image for one ECU goes through all steps.
		v.newImage("BRK2", "brakes/brk2-v6.bin", "supplier", 6)
		res, err = v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Stopped).To(BeEmpty())
		Expect(res.Targets["BRK2"].Image.Hashes).To(Equal(res.Targets["BRK2"].Director.Hashes))
		Expect(res.Targets["BRK2"].ImageRole).To(Equal("supplier"))
	})

	It("step 8: an unchanged Image Snapshot skips to step 10 with the trusted Image Targets", Label("std:full_verification#13"), func() {
		v := newVehicle(2)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		v.assign("BRK1", "brakes/brk2.bin", v.images["brakes/brk2.bin"], "brake", 5)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Used.Image).To(HaveKey("timestamp.json"))
		Expect(res.Used.Image).NotTo(HaveKey("1.snapshot.json"))
		Expect(res.Used.Image).NotTo(HaveKey("1.targets.json"))
	})

	It("lists per ECU the Director and Image metadata and the files a full-verification Secondary needs", Label("std:in_vehicle#8", "std:send_metadata_primary#1", "std:send_metadata_primary#2"), func() {
		v := newVehicle(3)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		t := res.Targets["BRK2"]
		Expect(t.Name).To(Equal("brakes/brk2.bin"))
		Expect(t.HardwareID).To(Equal("brake"))
		Expect(t.Custom.Uptane.ReleaseCounter).To(BeEquivalentTo(5))
		fs := res.FilesFor("BRK2")
		Expect(fs.Director).To(HaveKey("1.root.json"))
		Expect(fs.Director).To(HaveKey("timestamp.json"))
		Expect(fs.Director).To(HaveKey("1.snapshot.json"))
		Expect(fs.Director).To(HaveKey("1.targets.json"))
		Expect(fs.Image).To(HaveKey("1.supplier.json"))
		Expect(fs.Image).NotTo(HaveKey("2.retired.json"))
		Expect(res.FilesFor("PRI").Image).NotTo(HaveKey("1.supplier.json"))

		// The Secondary verifies with nothing but these files.
		sd, si := v.dir.trusted(), v.img.trusted()
		sres, err := verify.FullVerification(verify.Options{Time: t0}, verify.Scope{ECUs: []string{"BRK2"}}, sd, si,
			verify.MapFetcher(fs.Director), verify.MapFetcher(fs.Image))
		Expect(err).NotTo(HaveOccurred())
		Expect(sres.Targets).To(HaveLen(1))
		Expect(sres.Targets["BRK2"].Image.Hashes).To(Equal(t.Image.Hashes))

		// A partial-verification Secondary needs the Director Targets only.
		pd := v.dir.trusted()
		pt, err := verify.PartialVerification(verify.Options{Time: t0}, pd, verify.MapFetcher(res.PartialFilesFor("BRK3")), "BRK3", true)
		Expect(err).NotTo(HaveOccurred())
		Expect(pt.Name).To(Equal("brakes/brk3.bin"))
		plain, err := verify.VerifyImage(verify.Options{Time: t0}, pd, verify.ECU{ID: "BRK3", HardwareID: "brake", ReleaseCounter: u64(5)}, v.images["brakes/brk3.bin"])
		Expect(err).NotTo(HaveOccurred())
		Expect(plain).To(Equal(v.images["brakes/brk3.bin"]))
	})

	It("a Secondary checks only its own image: another ECU's mismatch does not stop it", Label("std:in_vehicle#8"), func() {
		v := newVehicle(2)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		v.assign("BRK1", "brakes/brk1.bin", []byte("evil"), "brake", 5)
		sd, si := v.dir.trusted(), v.img.trusted()
		_, err = verify.FullVerification(verify.Options{Time: t0}, verify.Scope{ECUs: []string{"BRK2"}}, sd, si, v.dir.files, v.img.files)
		Expect(err).NotTo(HaveOccurred())
		_, err = verify.FullVerification(verify.Options{Time: t0}, verify.Scope{ECUs: []string{"BRK1"}}, v.dir.trusted(), v.img.trusted(), v.dir.files, v.img.files)
		Expect(check.Is(err, check.FullVerificationMatchHashes)).To(BeTrue(), "%v", err)
		ce, _ := check.As(err)
		Expect(ce.ECU).To(Equal("BRK1"))
	})
})

var _ = Describe("verify_image", func() {
	It("step 6: decrypts an image encrypted for the ECU, then step 7 checks the plaintext", Label("std:verify_image#6"), func() {
		v := newVehicle(1)
		ct := encryptFor(v, "BRK1")
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		ecu := verify.ECU{ID: "BRK1", HardwareID: "brake", Decrypt: xorDecrypter, Filenames: []string{"brakes/*.bin"}}
		plain, err := verify.VerifyImage(v.o, v.tDir, ecu, ct)
		Expect(err).NotTo(HaveOccurred())
		Expect(plain).To(Equal(v.images["brakes/brk1.bin"]))
		ecu.Decrypt = nil
		_, err = verify.VerifyImage(v.o, v.tDir, ecu, ct)
		Expect(check.Is(err, check.VerifyImageDecrypt)).To(BeTrue(), "%v", err)
	})
	It("reports ErrNoTarget when the Director has no image for the ECU", Label("std:download_image#5"), func() {
		v := newVehicle(1)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		_, err = verify.VerifyImage(v.o, v.tDir, verify.ECU{ID: "NOPE", HardwareID: "x"}, nil)
		Expect(err).To(MatchError(verify.ErrNoTarget))
	})
	It("step 4: a path-traversal filename is invalid", Label("std:metadata_filename_rules#4", "std:verify_image#3"), func() {
		v := newVehicle(1)
		v.assign("BRK1", "../brk1.bin", v.images["brakes/brk1.bin"], "brake", 5)
		v.img.delegated["supplier"].Signed.Targets["../brk1.bin"] = targetFile("../brk1.bin", v.images["brakes/brk1.bin"], "brake", 5)
		_, err := verify.PartialVerification(v.o, v.tDir, verify.MapFetcher{"targets.json": v.dir.files["2.targets.json"]}, "BRK1", false)
		Expect(err).NotTo(HaveOccurred())
		_, err = verify.VerifyImage(v.o, v.tDir, verify.ECU{ID: "BRK1", HardwareID: "brake"}, v.images["brakes/brk1.bin"])
		Expect(check.Is(err, check.VerifyImageFilename)).To(BeTrue(), "%v", err)
	})
})

var _ = Describe("resolve_delegations and multirole_delegations", func() {
	It("multi-role: two of three roles agree → the agreeing set's metadata, earliest member named", Label("std:multirole_delegations#2", "std:multirole_delegations#4", "std:multirole_delegations#6", "std:targets_role_delegations#6"), func() {
		v := newVehicle(1)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		multirole(v, 2, []byte("fw odd"), []byte("fw good"), []byte("fw good"))
		v.assign("BRK1", "fw/x.bin", []byte("fw good"), "brake", 6)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Targets["BRK1"].ImageRole).To(Equal("b"))
		Expect(res.FilesFor("BRK1").Image).To(HaveKey("1.c.json"))
	})
	It("multi-role conflict (threshold 1, all disagree) → the set with the earliest role wins", Label("std:multirole_delegations#5", "std:targets_role_delegations#6"), func() {
		v := newVehicle(1)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		multirole(v, 1, nil, []byte("fw b"), []byte("fw c"))
		v.assign("BRK1", "fw/x.bin", []byte("fw c"), "brake", 6)
		_, err = v.verifyPrimary(check.Conformant)
		Expect(check.Is(err, check.FullVerificationMatchHashes)).To(BeTrue(), "%v", err)
		v.assign("BRK1", "fw/x.bin", []byte("fw b"), "brake", 6)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Targets["BRK1"].ImageRole).To(Equal("b"))
	})
	It("a member role that fails its checks counts as not agreeing", Label("std:multirole_delegations#3", "std:targets_role_delegations#6"), func() {
		v := newVehicle(1)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		multirole(v, 2, []byte("fw good"), []byte("fw good"), []byte("fw good"))
		v.img.signers["a"] = []keys.Signer{evil}
		v.img.delegated["a"].Signed.Version++
		v.img.release()
		v.assign("BRK1", "fw/x.bin", []byte("fw good"), "brake", 6)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Targets["BRK1"].ImageRole).To(Equal("b"))
	})
	It("searches a terminating role's own delegations before the search ends", Label("std:resolve_delegations#2", "std:resolve_delegations#4", "std:resolve_delegations#8", "std:targets_role_delegations#2"), func() {
		v := newVehicle(1)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		v.img.delegation("supplier").Terminating = true
		sup := v.img.delegated["supplier"]
		k := key(keys.Ed25519, "image/tier2")
		sup.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{k.KeyID(): k.Public()},
			Roles: []metadata.DelegatedRole{{Name: "tier2", KeyIDs: []string{k.KeyID()}, Threshold: 1, Paths: []string{"brakes/t2-*"}}}}
		v.img.signers["tier2"] = []keys.Signer{k}
		v.img.delegated["tier2"] = metadata.Targets(t0.AddDate(0, 1, 0))
		v.img.delegated["tier2"].Signed.Targets["brakes/t2-x.bin"] = targetFile("brakes/t2-x.bin", []byte("t2"), "brake", 6)
		sup.Signed.Version++
		v.img.targets.Signed.Version++
		v.img.release()
		v.assign("BRK1", "brakes/t2-x.bin", []byte("t2"), "brake", 6)
		res, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Targets["BRK1"].ImageRole).To(Equal("tier2"))
		Expect(res.FilesFor("BRK1").Image).To(HaveKey("1.tier2.json"))
	})
	It("terminates on a delegation cycle", Label("std:resolve_delegations#2"), func() {
		v := newVehicle(1)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		sup := v.img.delegated["supplier"]
		k := v.img.signers["supplier"][0].(*keys.Private)
		sup.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{k.KeyID(): k.Public()},
			Roles: []metadata.DelegatedRole{{Name: "supplier", KeyIDs: []string{k.KeyID()}, Threshold: 1, Paths: []string{"*"}}}}
		sup.Signed.Version++
		v.img.release()
		v.assign("BRK1", "brakes/none.bin", []byte("x"), "brake", 6)
		_, err = v.verifyPrimary(check.Conformant)
		Expect(check.Is(err, check.ResolveDelegationsFound)).To(BeTrue(), "%v", err)
	})
})

var _ = Describe("the trusted state", func() {
	It("serialises and loads back byte for byte, through a file written atomically", Label("std:check_root#1"), func() {
		v := newVehicle(2)
		_, err := v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
		b := must(v.tImg.Marshal())
		r, err := verify.LoadRepo(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(must(r.Marshal())).To(Equal(b))
		Expect(r.Name()).To(Equal("image"))
		Expect(r.Delegated("supplier")).NotTo(BeNil())
		Expect(r.Files()).To(Equal(v.tImg.Files()))
		path := filepath.Join(GinkgoT().TempDir(), "image.json")
		Expect(v.tImg.Save(path)).To(Succeed())
		r2, err := verify.LoadRepoFile(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(must(r2.Marshal())).To(Equal(b))
		// A loaded state verifies the next update.
		v.tImg = r2
		v.newImage("BRK2", "brakes/brk2-v6.bin", "supplier", 6)
		_, err = v.verifyPrimary(check.Conformant)
		Expect(err).NotTo(HaveOccurred())
	})
	It("rejects a trusted root that is not signed by its own threshold, and garbage state", func() {
		r := newTestRepo("director")
		_, err := verify.NewRepo("director", signBytes(r.root, evil))
		Expect(err).To(MatchError(ContainSubstring("threshold")))
		_, err = verify.LoadRepo([]byte(`{"repository":"x","roots":[]}`))
		Expect(err).To(HaveOccurred())
	})
	It("a fetcher returning more than maxBytes is an endless-data failure even when the file is otherwise valid", func() {
		v := newVehicle(1)
		v.o.Limits.Timestamp = 100
		_, err := v.verifyPrimary(check.Conformant)
		Expect(check.Is(err, check.TimestampSize)).To(BeTrue(), "%v", err)
	})
})
