package verify_test

import (
	"bytes"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// crafted is metadata crafted to break exactly one step of a procedure.
type crafted struct {
	// labels name the Standard's statements the case proves (uptane/std;
	// `uptane-hil trace`).
	labels Labels
	step   string   // the Standard's step, as the spec name
	id     check.ID // the check that must stop it
	prep   func(v *vehicle)
	craft  func(v *vehicle)
	run    func(v *vehicle, p check.Profile) error // default: Primary full verification
	valid  func(v *vehicle)                        // a valid change for the same run (default: new image for BRK1)
}

func runPrimary(v *vehicle, p check.Profile) error {
	f := verify.Fetcher(v.img.files)
	if v.noImage {
		f = nil
	}
	o := v.o
	o.Profile = p
	_, err := verify.FullVerification(o, v.primary(), v.tDir, v.tImg, v.dir.files, f)
	return err
}

// runPartial is partial verification of BRK1 with a Director Root check;
// the Director Targets are served as "targets.json" (the current version
// unless a spec put another there).
func runPartial(v *vehicle, p check.Profile) error {
	f := verify.MapFetcher{}
	for k, b := range v.dir.files {
		f[k] = b
	}
	if _, ok := f["targets.json"]; !ok {
		f["targets.json"] = v.dir.files[meta.VersionedName(v.dir.targets.Signed.Version, meta.Targets)]
	}
	o := v.o
	o.Profile = p
	_, err := verify.PartialVerification(o, v.tDir, f, "BRK1", true)
	return err
}

// sameLength replaces files[name] with what sign returns, re-signing
// until the length is unchanged (ECDSA signatures vary in length).
func sameLength(files verify.MapFetcher, name string, sign func() []byte) {
	n := len(files[name])
	for i := 0; i < 100; i++ {
		if b := sign(); len(b) == n {
			files[name] = b
			return
		}
	}
	panic("cannot keep the length of " + name)
}

// runImage is verify_image on BRK1 with profile p, against the trusted
// Director metadata.
func runImage(v *vehicle, p check.Profile) error {
	t, err := verify.PartialVerification(verify.Options{Time: t0}, v.tDir.Clone(), verify.MapFetcher{
		"targets.json": v.tDir.Raw(meta.Targets)}, "BRK1", false)
	if err != nil {
		return err
	}
	ecu := verify.ECU{ID: "BRK1", HardwareID: "brake"}
	if v.ecuMod != nil {
		v.ecuMod(&ecu)
	}
	data := v.images[t.Name]
	if v.delivered != nil {
		data = v.delivered
	}
	o := v.o
	o.Profile = p
	plain, err := verify.VerifyImage(o, v.tDir, ecu, data)
	if err == nil && v.expectPlain != nil && !bytes.Equal(plain, v.expectPlain) {
		return fmt.Errorf("verify_image returned %q, want %q", plain, v.expectPlain)
	}
	return err
}

// advance makes a valid release of both repositories and verifies it.
func (v *vehicle) advance() {
	v.newImage("BRK1", fmt.Sprintf("brakes/brk1-%d.bin", v.dir.targets.Signed.Version+1), "supplier", 5)
	_, err := v.verifyPrimary(check.Conformant)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
}

// bumpRoot publishes a new Root version after changing it with f.
func bumpRoot(r *testRepo, f func(root *metadata.RootType)) {
	r.root.Signed.Version++
	if f != nil {
		f(&r.root.Signed)
	}
	r.publishRoot()
}

var evil = key(keys.Ed25519, "attacker")

func u64(x uint64) *uint64 { return &x }

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ 0x5a
	}
	return out
}

// encryptFor makes the Director's metadata of BRK1's image say it is
// encrypted (toy XOR cipher), and returns the ciphertext.
func encryptFor(v *vehicle, ecu string) []byte {
	for name, tf := range v.dir.targets.Signed.Targets {
		c := must(meta.GetCustom(tf))
		e, ok := c.ECUIdentifiers[ecu]
		if !ok {
			continue
		}
		ct := xor(v.images[name])
		e.Encrypted = &meta.Encrypted{Filename: name + ".enc", Length: int64(len(ct)), Hashes: meta.HashesOf(ct), Algorithm: "XOR-TEST"}
		c.ECUIdentifiers[ecu] = e
		must(0, meta.SetCustom(tf, c))
		v.dir.targets.Signed.Version++
		v.dir.release()
		return ct
	}
	panic("no target for " + ecu)
}

var xorDecrypter verify.Decrypter = func(enc *meta.Encrypted, ct []byte) ([]byte, error) { return xor(ct), nil }

// multirole adds to the Image repository a 2-of-3 multi-role delegation
// of "fw/*" to roles a, b, c listing fw/x.bin with the given contents
// (nil: the role does not list it).
func multirole(v *vehicle, threshold int, contents ...[]byte) {
	names := []string{"a", "b", "c"}
	for i, n := range names {
		v.img.delegate(n, nil)
		if contents[i] != nil {
			v.img.delegated[n].Signed.Targets["fw/x.bin"] = targetFile("fw/x.bin", contents[i], "brake", 6)
		}
	}
	d := metadata.DelegatedRole{Name: "fw", KeyIDs: []string{}, Threshold: 1, Paths: []string{"fw/*"}}
	meta.SetHardwareIDs(&d, "brake")
	meta.SetMultiRole(&d, meta.MultiRole{Roles: names, Threshold: threshold})
	roles := v.img.targets.Signed.Delegations.Roles
	v.img.targets.Signed.Delegations.Roles = append([]metadata.DelegatedRole{d}, roles...)
	v.img.targets.Signed.Version++
	v.img.release()
}

var cases = []crafted{
	// {#check_root}
	{labels: Label("std:check_root#2", "std:full_verification#6"), step: "check_root step 2.2: Root N+1 larger than X → endless data", id: check.RootSize,
		craft: func(v *vehicle) {
			bumpRoot(v.dir, func(r *metadata.RootType) { pad(&r.UnrecognizedFields, 70<<10) })
		}},
	{labels: Label("std:check_root#3"), step: "check_root step 2.3: Root N+1 not signed by a threshold of Root N's keys → arbitrary software", id: check.RootSignatures,
		craft: func(v *vehicle) {
			k := key(keys.ECDSAP256, "director/root-2")
			v.dir.rotate(meta.Root, k)
			v.dir.files["2.root.json"] = signBytes(v.dir.root, k)
		}},
	{labels: Label("std:check_root#3"), step: "check_root step 2.3: Root N+1 not signed by a threshold of its own keys → arbitrary software", id: check.RootSignatures,
		craft: func(v *vehicle) {
			old := v.dir.signers[meta.Root]
			v.dir.rotate(meta.Root, key(keys.ECDSAP256, "director/root-2"))
			v.dir.files["2.root.json"] = signBytes(v.dir.root, old...)
		}},
	{labels: Label("std:check_root#4"), step: "check_root step 2.4: 2.root.json has version 3 → rollback", id: check.RootVersion,
		craft: func(v *vehicle) {
			v.dir.root.Signed.Version = 3
			v.dir.files["2.root.json"] = signBytes(v.dir.root, v.dir.signers[meta.Root]...)
		}},
	{labels: Label("std:check_root#6"), step: "check_root step 3: the latest Root has expired → freeze", id: check.RootExpiry,
		craft: func(v *vehicle) {
			bumpRoot(v.dir, func(r *metadata.RootType) { r.Expires = t0.Add(-1) })
		}},
	// {#check_timestamp}
	{labels: Label("std:check_timestamp#1"), step: "check_timestamp step 1: Timestamp larger than Y → endless data", id: check.TimestampSize,
		craft: func(v *vehicle) {
			pad(&v.dir.timestamp.Signed.UnrecognizedFields, 20<<10)
			v.dir.timestamp.Signed.Version++
			v.dir.publishTimestamp()
		}},
	{labels: Label("std:check_timestamp#2", "std:common_metadata#1"), step: "check_timestamp step 2: Timestamp signed by a key the Root does not list → arbitrary software", id: check.TimestampSignatures,
		craft: func(v *vehicle) {
			v.dir.timestamp.Signed.Version++
			v.dir.files["timestamp.json"] = signBytes(v.dir.timestamp, evil)
		}},
	{labels: Label("std:check_timestamp#3"), step: "check_timestamp step 3: Timestamp version lower than the trusted one → rollback", id: check.TimestampVersion,
		prep: func(v *vehicle) { v.advance() },
		craft: func(v *vehicle) {
			v.dir.timestamp.Signed.Version = 1
			v.dir.publishTimestamp()
		}},
	{labels: Label("std:check_timestamp#4"), step: "check_timestamp step 4: expired Timestamp → freeze", id: check.TimestampExpiry,
		craft: func(v *vehicle) {
			v.dir.timestamp.Signed.Version++
			v.dir.timestamp.Signed.Expires = t0
			v.dir.publishTimestamp()
		}},
	{labels: Label("std:full_verification#12"), step: "full_verification step 7: expired Image repository Timestamp (with a new Director image) → freeze", id: check.TimestampExpiry,
		craft: func(v *vehicle) {
			v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
			v.img.timestamp.Signed.Version++
			v.img.timestamp.Signed.Expires = t0
			v.img.publishTimestamp()
		}},
	{labels: Label("std:full_verification#4"), step: "full_verification step 1: the time the ECU loaded decides expiry (valid metadata, loaded time past its expiry) → freeze", id: check.TimestampExpiry,
		craft: func(v *vehicle) {
			v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
			v.o.Time = v.dir.timestamp.Signed.Expires.Add(time.Second)
		}},
	// {#check_snapshot}
	{labels: Label("std:check_snapshot#1"), step: "check_snapshot step 1: Snapshot larger than the limit → endless data", id: check.SnapshotSize,
		craft: func(v *vehicle) {
			r := v.dir
			pad(&r.snapshot.Signed.UnrecognizedFields, 1100<<10)
			r.snapshot.Signed.Version++
			r.files[meta.VersionedName(r.snapshot.Signed.Version, meta.Snapshot)] = signBytes(r.snapshot, r.signers[meta.Snapshot]...)
			r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metadata.MetaFile(r.snapshot.Signed.Version)}
			r.timestamp.Signed.Version++
			r.publishTimestamp()
		}},
	{labels: Label("std:check_snapshot#2"), step: "check_snapshot step 2: Snapshot hashes differ from the Timestamp's → mix-and-match", id: check.SnapshotTimestampMatch,
		craft: func(v *vehicle) {
			r := v.dir
			r.release()
			r.snapshot.Signed.Expires = r.snapshot.Signed.Expires.Add(time.Second)
			sameLength(r.files, meta.VersionedName(r.snapshot.Signed.Version, meta.Snapshot), func() []byte { return signBytes(r.snapshot, r.signers[meta.Snapshot]...) })
		}},
	{labels: Label("std:check_snapshot#2"), step: "check_snapshot step 2: Snapshot version differs from the Timestamp's → mix-and-match", id: check.SnapshotTimestampMatch,
		craft: func(v *vehicle) {
			r := v.dir
			r.snapshot.Signed.Version = 2
			r.files["3.snapshot.json"] = signBytes(r.snapshot, r.signers[meta.Snapshot]...)
			r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metadata.MetaFile(3)}
			r.timestamp.Signed.Version++
			r.publishTimestamp()
		}},
	{labels: Label("std:check_snapshot#3", "std:common_metadata#1"), step: "check_snapshot step 3: Snapshot signed by a key the Root does not list → arbitrary software", id: check.SnapshotSignatures,
		craft: func(v *vehicle) {
			r := v.dir
			r.snapshot.Signed.Version++
			r.timestamp.Signed.Version++
			r.publishSnapshotBy(evil)
		}},
	{labels: Label("std:check_snapshot#4"), step: "check_snapshot step 4: Snapshot version lower than the trusted one → rollback", id: check.SnapshotVersion,
		prep: func(v *vehicle) { v.advance() },
		craft: func(v *vehicle) {
			r := v.dir
			r.snapshot.Signed.Version = 1
			r.timestamp.Signed.Version++
			r.publishSnapshot()
		}},
	{labels: Label("std:check_snapshot#5"), step: "check_snapshot step 5: a Targets file's version goes down → rollback", id: check.SnapshotTargetsVersions,
		craft: func(v *vehicle) {
			v.img.delegated["retired"].Signed.Version = 1
			v.img.release()
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	{labels: Label("std:check_snapshot#6"), step: "check_snapshot step 6: a Targets file listed before is missing → rollback", id: check.SnapshotTargetsListed,
		craft: func(v *vehicle) {
			delete(v.img.delegated, "retired")
			v.img.release()
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	{labels: Label("std:check_snapshot#7"), step: "check_snapshot step 7: expired Snapshot → freeze", id: check.SnapshotExpiry,
		craft: func(v *vehicle) {
			v.dir.snapshot.Signed.Expires = t0.Add(-1)
			v.dir.release()
		}},
	// {#check_targets}
	{labels: Label("std:check_targets#1"), step: "check_targets step 1: Targets larger than Z → endless data", id: check.TargetsSize,
		craft: func(v *vehicle) {
			pad(&v.dir.targets.Signed.UnrecognizedFields, 1100<<10)
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	{labels: Label("std:check_targets#2"), step: "check_targets step 2: Targets version differs from the Snapshot's → mix-and-match", id: check.TargetsSnapshotMatch,
		craft: func(v *vehicle) {
			r := v.dir
			r.targets.Signed.Version = 2
			r.files["3.targets.json"] = signBytes(r.targets, r.signers[meta.Targets]...)
			r.snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(3)
			r.snapshot.Signed.Version++
			r.timestamp.Signed.Version++
			r.publishSnapshot()
		}},
	{labels: Label("std:check_targets#2"), step: "check_targets step 2: Targets hashes differ from the Snapshot's → mix-and-match", id: check.TargetsSnapshotMatch,
		craft: func(v *vehicle) {
			r := v.dir
			r.snapshotHashes = true
			r.targets.Signed.Version++
			r.release()
			r.targets.Signed.Expires = r.targets.Signed.Expires.Add(time.Second)
			sameLength(r.files, meta.VersionedName(r.targets.Signed.Version, meta.Targets), func() []byte { return signBytes(r.targets, r.signers[meta.Targets]...) })
		}},
	{labels: Label("std:check_targets#3"), step: "check_targets step 3: Targets signed by 1 of its threshold of 2 keys → arbitrary software", id: check.TargetsThreshold,
		craft: func(v *vehicle) {
			r := v.dir
			r.targets.Signed.Version++
			r.release()
			r.files[meta.VersionedName(r.targets.Signed.Version, meta.Targets)] = signBytes(r.targets, r.signers[meta.Targets][1])
		}},
	{labels: Label("std:check_targets#3"), step: "check_targets step 3: Image Targets signed by 1 of its threshold of 2 keys and the attacker's key → arbitrary software", id: check.TargetsThreshold,
		craft: func(v *vehicle) {
			r := v.img
			v.newImage("BRK1", "brakes/brk1-v6.bin", "", 6)
			r.files[meta.VersionedName(r.targets.Signed.Version, meta.Targets)] = signBytes(r.targets, r.signers[meta.Targets][0], evil)
		}},
	{labels: Label("std:common_metadata#1"), step: "check_targets step 3: Targets signed only by a key Root does not give → arbitrary software", id: check.TargetsSignatures,
		craft: func(v *vehicle) {
			r := v.dir
			r.targets.Signed.Version++
			r.release()
			r.files[meta.VersionedName(r.targets.Signed.Version, meta.Targets)] = signBytes(r.targets, evil)
		}},
	{labels: Label("std:delegations_meta#6"), step: "check_targets step 3: delegated Targets signed by 1 of the 2 keys its delegator requires → arbitrary software", id: check.TargetsThreshold,
		craft: func(v *vehicle) {
			second := key(keys.ECDSAP256, "image/supplier-2")
			must(0, v.img.targets.Signed.AddKey(second.Public(), "supplier"))
			v.img.delegation("supplier").Threshold = 2
			v.img.targets.Signed.Version++
			v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
		}},
	{labels: Label("std:delegations_meta#6", "std:resolve_delegations#3"), step: "check_targets step 3: delegated Targets signed by a key its delegator does not give → arbitrary software", id: check.TargetsSignatures,
		craft: func(v *vehicle) {
			v.img.signers["supplier"] = []keys.Signer{evil}
			v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
		}},
	{labels: Label("std:check_targets#4"), step: "check_targets step 4: Targets version lower than the trusted one (partial verification) → rollback", id: check.TargetsVersion,
		run: runPartial,
		prep: func(v *vehicle) {
			v.dir.files["targets.json"] = v.dir.files["1.targets.json"]
			v.assign("BRK1", "brakes/brk1.bin", v.images["brakes/brk1.bin"], "brake", 5)
			v.dir.files["targets.json"] = v.dir.files["2.targets.json"]
			ExpectWithOffset(1, runPartial(v, check.Conformant)).To(Succeed())
		},
		craft: func(v *vehicle) { v.dir.files["targets.json"] = v.dir.files["1.targets.json"] },
		valid: func(v *vehicle) {
			delete(v.dir.files, "targets.json")
			v.assign("BRK1", "brakes/brk1.bin", v.images["brakes/brk1.bin"], "brake", 5)
		}},
	{labels: Label("std:check_targets#5"), step: "check_targets step 5: expired Targets → freeze", id: check.TargetsExpiry,
		craft: func(v *vehicle) {
			v.dir.targets.Signed.Expires = t0
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	{labels: Label("std:check_targets#6", "std:targets_role_delegations#7"), step: "check_targets step 6: Director Targets with delegations → arbitrary software", id: check.TargetsDirectorNoDelegations,
		craft: func(v *vehicle) {
			v.dir.targets.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{evil.KeyID(): evil.Public()},
				Roles: []metadata.DelegatedRole{{Name: "x", KeyIDs: []string{evil.KeyID()}, Threshold: 1, Paths: []string{"*"}}}}
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	{labels: Label("std:check_targets#7"), step: "check_targets step 7: an ECU identifier listed twice in Director Targets → mix-and-match", id: check.TargetsDirectorUniqueECUs,
		craft: func(v *vehicle) {
			v.dir.targets.Signed.Targets["brakes/brk1.zzz"] = directorFile("brakes/brk1.zzz", []byte("other"), "brake", 5, map[string]string{"BRK1": "brake"})
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	{labels: Label("std:targets_images_meta#3"), step: "targets_images_meta: another vehicle's image-less Director Targets on the Primary → replay", id: check.TargetsImagesMetaVehicleID,
		craft: func(v *vehicle) {
			v.dir.targets.Signed.Targets = map[string]*metadata.TargetFiles{}
			meta.SetVIN(&v.dir.targets.Signed, "VIN2")
			v.dir.targets.Signed.Version += 5
			v.dir.release()
		}},
	{labels: Label("std:targets_images_meta#3"), step: "targets_images_meta: another vehicle's Director Targets on a partial-verification Secondary → replay", id: check.TargetsImagesMetaVehicleID,
		run: runPartial,
		craft: func(v *vehicle) {
			meta.SetVIN(&v.dir.targets.Signed, "VIN2")
			v.dir.targets.Signed.Version += 5
			v.dir.release()
			v.dir.files["targets.json"] = v.dir.files[meta.VersionedName(v.dir.targets.Signed.Version, meta.Targets)]
		}},
	{labels: Label("std:check_targets#8"), step: "check_targets step 8: an ECU identifier that is not in the vehicle → mix-and-match", id: check.TargetsDirectorECUsInVehicle,
		craft: func(v *vehicle) {
			v.dir.targets.Signed.Targets["gw.bin"] = directorFile("gw.bin", v.images["gw.bin"], "gw", 1, map[string]string{"PRI": "gw", "GHOST": "gw"})
			v.dir.targets.Signed.Version++
			v.dir.release()
		}},
	// {#resolve_delegations}, {#multirole_delegations}
	{labels: Label("std:resolve_delegations#9", "std:targets_images_meta#1"), step: "resolve_delegations step 5: no role lists the Director's image → arbitrary software", id: check.ResolveDelegationsFound,
		craft: func(v *vehicle) { v.assign("BRK1", "brakes/evil.bin", []byte("evil"), "brake", 6) }},
	{labels: Label("std:resolve_delegations#5", "std:targets_role_delegations#2", "std:targets_role_delegations#3"), step: "resolve_delegations step 3: a terminating delegation without the image ends the search", id: check.ResolveDelegationsTerminating,
		craft: func(v *vehicle) {
			d := v.img.delegate("old-supplier", []string{"brakes/*"}, "brake")
			d.Terminating = true
			roles := v.img.targets.Signed.Delegations.Roles
			n := len(roles)
			v.img.targets.Signed.Delegations.Roles = append([]metadata.DelegatedRole{roles[n-1]}, roles[:n-1]...)
			v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
		}},
	{labels: Label("std:resolve_delegations#6"), step: "resolve_delegations step 4.1: image listed by a role delegated for other hardware → arbitrary software", id: check.ResolveDelegationsScope,
		craft: func(v *vehicle) { v.newImage("PRI", "brakes/gw-x.bin", "supplier", 2) }},
	{labels: Label("std:resolve_delegations#6"), step: "resolve_delegations step 4.1: image listed by a role delegated for other paths → arbitrary software", id: check.ResolveDelegationsScope,
		craft: func(v *vehicle) {
			v.hw["PRI"] = "brake" // the supplier role is delegated for brakes/* on brake hardware
			v.newImage("PRI", "gw2.bin", "supplier", 2)
		}},
	{labels: Label("std:multirole_delegations#1", "std:multirole_delegations#7", "std:targets_role_delegations#6"), step: "multirole_delegations step 2.4: no threshold of roles agree → arbitrary software", id: check.MultiroleDelegationsThreshold,
		craft: func(v *vehicle) {
			multirole(v, 2, []byte("fw one"), []byte("fw two"), []byte("fw three"))
			v.assign("BRK1", "fw/x.bin", []byte("fw one"), "brake", 6)
		}},
	// {#full_verification}
	{labels: Label("std:full_verification#3", "std:repo_mapping_meta#1", "std:repo_mapping_meta#3"), step: "full_verification steps 6-9: no Image repository to check against → arbitrary software", id: check.FullVerificationImageRepository,
		craft: func(v *vehicle) {
			v.noImage = true
			v.assign("BRK1", "brakes/evil.bin", []byte("evil"), "brake", 6)
		}},
	{labels: Label("std:repo_mapping_meta#3", "std:targets_images_meta#2"), step: "full_verification step 10.2.1: Director and Image hashes differ → arbitrary software", id: check.FullVerificationMatchHashes,
		craft: func(v *vehicle) { v.assign("BRK1", "brakes/brk1.bin", []byte("evil"), "brake", 5) }},
	{labels: Label("std:full_verification#18", "std:targets_custom_meta#3"), step: "full_verification step 10.2.2: Director and Image release counters differ → mix-and-match", id: check.FullVerificationMatchCustom,
		craft: func(v *vehicle) { v.assign("BRK1", "brakes/brk1.bin", v.images["brakes/brk1.bin"], "brake", 7) }},
	{labels: Label("std:full_verification#19"), step: "full_verification step 10.2.3: the release counter goes down → rollback", id: check.FullVerificationReleaseCounter,
		craft: func(v *vehicle) { v.newImage("BRK1", "brakes/brk1-old.bin", "supplier", 3) }},
	// {#verify_image}
	{labels: Label("std:verify_image#2"), step: "verify_image step 3: image for other hardware → incompatible software", id: check.VerifyImageHardwareID, run: runImage, valid: (*vehicle).advance,
		craft: func(v *vehicle) { v.ecuMod = func(e *verify.ECU) { e.HardwareID = "brake-v3" } }},
	{labels: Label("std:verify_image#3"), step: "verify_image step 4: filename not valid for this ECU → arbitrary software", id: check.VerifyImageFilename, run: runImage, valid: (*vehicle).advance,
		craft: func(v *vehicle) { v.ecuMod = func(e *verify.ECU) { e.Filenames = []string{"brakes/*.img"} } }},
	{labels: Label("std:verify_image#4"), step: "verify_image step 5: release counter lower than the installed image's → rollback", id: check.VerifyImageReleaseCounter, run: runImage, valid: (*vehicle).advance,
		craft: func(v *vehicle) { v.ecuMod = func(e *verify.ECU) { e.ReleaseCounter = u64(9) } }},
	{labels: Label("std:verify_image#6"), step: "verify_image step 6: an encrypted image that does not decrypt (delivered in clear) → eavesdrop", id: check.VerifyImageDecrypt, run: runImage, valid: (*vehicle).advance,
		prep: func(v *vehicle) {
			encryptFor(v, "BRK1")
			_, err := v.verifyPrimary(check.Conformant)
			Expect(err).NotTo(HaveOccurred())
		},
		craft: func(v *vehicle) {
			v.ecuMod = func(e *verify.ECU) { e.Decrypt = xorDecrypter }
		}},
	{labels: Label("std:targets_images_meta#2", "std:verify_image#8"), step: "verify_image step 7: image bytes differ from the hashes → arbitrary software", id: check.VerifyImageHashes, run: runImage, valid: (*vehicle).advance,
		craft: func(v *vehicle) {
			d := append([]byte{}, v.images["brakes/brk1.bin"]...)
			d[0] ^= 1
			v.delivered = d
		}},
}

var _ = Describe("the checks of the Standard, one step at a time", func() {
	seen := map[check.ID]bool{}
	for _, c := range cases {
		seen[c.id] = true
		run := c.run
		if run == nil {
			run = runPrimary
		}
		setup := func() *vehicle {
			GinkgoHelper()
			v := newVehicle(1)
			_, err := v.verifyPrimary(check.Conformant)
			Expect(err).NotTo(HaveOccurred())
			if c.prep != nil {
				c.prep(v)
			}
			return v
		}
		Describe(c.step, c.labels, func() {
			It("passes valid metadata", func() {
				v := setup()
				if c.valid != nil {
					c.valid(v)
				} else {
					v.newImage("BRK1", "brakes/brk1-v6.bin", "supplier", 6)
				}
				Expect(run(v, check.Conformant)).To(Succeed())
			})
			It(fmt.Sprintf("rejects the crafted metadata with %s and leaves the trusted state untouched", c.id), Label("std:full_verification#20", "std:full_verification#21", "std:metadata_verification#4"), func() {
				v := setup()
				before := v.state()
				c.craft(v)
				err := run(v, check.Conformant)
				Expect(err).To(HaveOccurred())
				Expect(check.Is(err, c.id)).To(BeTrue(), "got %v", err)
				ce, _ := check.As(err)
				Expect(ce.Attack).To(Equal(must(func() (check.Check, error) { ch, _ := check.Lookup(c.id); return ch, nil }()).Attack))
				Expect(v.state()).To(Equal(before))
			})
			It(fmt.Sprintf("lets it through with %s switched off (control profile)", c.id), func() {
				v := setup()
				c.craft(v)
				Expect(run(v, check.Without(c.id))).To(Succeed())
			})
		})
	}
	It("covers every metadata and image check of uptane/check", func() {
		for _, ch := range check.All {
			switch ch.Section {
			case "check_root", "check_timestamp", "check_snapshot", "check_targets", "resolve_delegations", "multirole_delegations", "full_verification":
			case "verify_image":
			default:
				continue
			}
			if ch.ID == check.RootRotationReset {
				continue // a recovery, not a rejection: see its own specs
			}
			Expect(seen).To(HaveKey(ch.ID))
		}
	})
})

var _ = Describe("check_targets step 3 as two checks", func() {
	craft := func(v *vehicle, signers ...keys.Signer) {
		r := v.dir
		r.targets.Signed.Version++
		r.release()
		r.files[meta.VersionedName(r.targets.Signed.Version, meta.Targets)] = signBytes(r.targets, signers...)
	}
	It("without check_targets.threshold still needs one valid signature: the control lacks the threshold, not the signature check", func() {
		v := newVehicle(1)
		Expect(v.verifyPrimary(check.Conformant)).Error().NotTo(HaveOccurred())
		craft(v, evil)
		_, err := v.verifyPrimary(check.Without(check.TargetsThreshold))
		Expect(check.Is(err, check.TargetsSignatures)).To(BeTrue(), "%v", err)
		_, err = v.verifyPrimary(check.Without(check.TargetsThreshold, check.TargetsSignatures))
		Expect(err).NotTo(HaveOccurred())
	})
})
