package check

import "strings"

// Actor is one party of an Uptane system that performs checks: the
// Primary, a Secondary with full or with partial verification
// ({#full_verification}, {#partial_verification}), or the Director
// repository (its checks of vehicle version manifests).
type Actor uint8

// The actors. Each is one bit, so that a set of them (Actors) is a mask.
const (
	Primary          Actor = 1 << iota // the Primary ECU
	SecondaryFull                      // a Secondary with full verification
	SecondaryPartial                   // a Secondary with partial verification
	Director                           // the Director repository
)

// actorOrder lists the actors in the order their names are written.
var actorOrder = []Actor{Primary, SecondaryFull, SecondaryPartial, Director}

// String names the actor as a report writes it.
func (a Actor) String() string {
	switch a {
	case Primary:
		return "Primary"
	case SecondaryFull:
		return "full-verification Secondary"
	case SecondaryPartial:
		return "partial-verification Secondary"
	case Director:
		return "Director"
	}
	return "no actor"
}

// Actors is a set of actors.
type Actors uint8

// Set returns the set of the given actors.
func Set(as ...Actor) Actors {
	var s Actors
	for _, a := range as {
		s |= Actors(a)
	}
	return s
}

// Has reports whether a is in the set.
func (s Actors) Has(a Actor) bool { return s&Actors(a) != 0 }

// List returns the actors of the set, in the order Primary, full
// Secondary, partial Secondary, Director.
func (s Actors) List() []Actor {
	var l []Actor
	for _, a := range actorOrder {
		if s.Has(a) {
			l = append(l, a)
		}
	}
	return l
}

// String lists the actors in words: "the Primary and full-verification
// Secondaries", "the Director"; "no actor" for the empty set.
func (s Actors) String() string {
	l := s.List()
	if len(l) == 0 {
		return "no actor"
	}
	words := make([]string, len(l))
	for i, a := range l {
		switch a {
		case SecondaryFull, SecondaryPartial:
			words[i] = strings.TrimSuffix(a.String(), "Secondary") + "Secondaries"
		default:
			words[i] = "the " + a.String()
		}
	}
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// SecondaryActor returns the actor of a Secondary that performs the given
// verification, "full" or "partial" (a rig's profile); ok is false for any
// other name.
func SecondaryActor(verification string) (a Actor, ok bool) {
	switch verification {
	case "full":
		return SecondaryFull, true
	case "partial":
		return SecondaryPartial, true
	}
	return 0, false
}

var (
	allECUs   = Set(Primary, SecondaryFull, SecondaryPartial)
	fullECUs  = Set(Primary, SecondaryFull) // whoever verifies both repositories
	secondary = Set(SecondaryFull, SecondaryPartial)
	primary   = Set(Primary)
	director  = Set(Director)
)

// PerformedBy says which actors perform each check: the code that consults
// the check (uptane/verify for the metadata and image checks, ecus/primary,
// ecus/secondary, uptane/repo for the Director) runs on those actors, so a
// control profile without the check weakens exactly them. A partial-
// verification Secondary verifies only the Director's Root and Targets
// ({#partial_verification}) and the image; the Primary verifies images by
// their hashes only, as it downloads them ({#download_images_primary}).
// Every check of All has an entry (a spec fails otherwise).
var PerformedBy = map[ID]Actors{
	// every ECU is provisioned with the latest metadata at the factory
	BuildTimeMetadata: allECUs,

	RootSize:          allECUs,
	RootSignatures:    allECUs,
	RootVersion:       allECUs,
	RootExpiry:        allECUs,
	RootRotationReset: allECUs,

	TimestampSize:       fullECUs,
	TimestampSignatures: fullECUs,
	TimestampVersion:    fullECUs,
	TimestampExpiry:     fullECUs,

	SnapshotSize:            fullECUs,
	SnapshotTimestampMatch:  fullECUs,
	SnapshotSignatures:      fullECUs,
	SnapshotVersion:         fullECUs,
	SnapshotTargetsVersions: fullECUs,
	SnapshotTargetsListed:   fullECUs,
	SnapshotExpiry:          fullECUs,

	TargetsSize:                  allECUs,
	TargetsSnapshotMatch:         fullECUs, // partial: no Snapshot (step 2 skipped)
	TargetsSignatures:            allECUs,
	TargetsThreshold:             allECUs,
	TargetsVersion:               allECUs,
	TargetsExpiry:                allECUs,
	TargetsDirectorNoDelegations: allECUs,
	TargetsDirectorUniqueECUs:    allECUs,
	TargetsDirectorECUsInVehicle: primary, // only the Primary knows the vehicle's ECUs
	TargetsImagesMetaVehicleID:   allECUs, // on the Director's Targets, against the VIN each ECU was given

	ResolveDelegationsFound:       fullECUs,
	ResolveDelegationsTerminating: fullECUs,
	ResolveDelegationsScope:       fullECUs,
	MultiroleDelegationsThreshold: fullECUs,

	FullVerificationImageRepository: fullECUs,
	FullVerificationMatchHashes:     fullECUs,
	FullVerificationMatchCustom:     fullECUs,
	FullVerificationReleaseCounter:  fullECUs,

	DownloadImageSize: allECUs,
	// new Director metadata becomes trusted only with its image, on the
	// Primary and on every Secondary
	DownloadImagePreviousTargets: allECUs,
	VerifyImageHardwareID:        secondary,
	VerifyImageFilename:          secondary,
	VerifyImageReleaseCounter:    secondary,
	VerifyImageDecrypt:           secondary,
	VerifyImageHashes:            allECUs,

	InVehicleDownloadSpeed: primary,
	// a Secondary watches the speed of a file transfer on its bus
	InVehicleBusDownloadSpeed: secondary,
	InVehicleRequestTimeout:   primary,
	// every ECU takes its time through verify.VerifyTime (the Primary from
	// the time server, each Secondary from the attestation it forwards)
	VerifyTimeMonotonic:             allECUs,
	VerifyTimeAttestation:           allECUs,
	VerifyTimeBound:                 allECUs,
	SendImagesPrimaryCompleteBundle: primary,

	DirectorRepositoryManifestSignature: director,
	DirectorRepositoryReportSignature:   director,
	DirectorRepositoryECUsInInventory:   director,
	DirectorRepositoryAllECUsReported:   director,
	DirectorRepositoryNonceFresh:        director,
	DirectorRepositoryEncryptImages:     director,
	DirectorRepositoryDependencies:      director,

	PoufReportSignature: primary,
	PoufReportNonce:     primary,
	PoufTransferSize:    secondary,
	PoufRateLimit:       secondary,

	// ecus/store's A/B slots; a Secondary opens its store in place when
	// the check is off (the Primary's store is always A/B)
	InstallImageAtomic: secondary,
	// its UDS server reads the vehicle's state on its bus
	PoufProgrammingPreconditions: secondary,
}

// Performers returns the actors that perform check id (the empty set for
// the zero ID or an unknown one).
func (id ID) Performers() Actors { return PerformedBy[id] }
