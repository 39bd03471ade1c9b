package scenarios

// The device under test when it is an aktualizr-secondary (uptane/
// aktualizr's Secondary, rig protocol aktualizr-ip, issue 14): which of the
// Standard's checks it performs (read from its source, not from
// check.PerformedBy: it is not our Secondary), which scenarios can judge
// it, how its identity is read, and the play of a scenario against it.
// docs/aktualizr-ip.md, "As the device under test", has the table in words.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/ecus/vehicle"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// AktualizrCheck is a check aktualizr-secondary (e5118a7) performs: with
// verification_type Full, with Tuf, and where in its source.
type AktualizrCheck struct {
	Full, Tuf bool
	Where     string
}

// AktualizrChecks are the checks aktualizr-secondary performs on what the
// Primary sends it (putRootReq, putMetaReq2, uploadDataReq, installReq).
// In Full verification it checks the Director's Root and Targets (the
// protocol carries no Director Timestamp or Snapshot) and the Image
// repository's Root, Timestamp, Snapshot and Targets; in Tuf the Image
// repository's only. It checks no metadata size (SecondaryMetadata::fetchRole
// ignores maxsize), no VIN, no delegations (it reads the top-level Image
// Targets only), no release counter, no attested time, no encryption.
// Every check missing here is one it does not perform.
var AktualizrChecks = map[check.ID]AktualizrCheck{
	check.RootSignatures:    {true, true, "uptanerepository.cc verifyRoot: Root(type, json, root), signed by the old and the new Root's threshold"},
	check.RootVersion:       {true, true, "uptanerepository.cc verifyRoot: version == previous + 1 (RootRotationError)"},
	check.RootExpiry:        {true, true, "uptanerepository.cc updateRoot: rootExpired() (ExpiredMetadata), by its system clock"},
	check.RootRotationReset: {true, true, "uptanerepository.cc updateRoot: clearNonRootMeta after each new Root"},

	check.TimestampSignatures: {true, true, "imagerepository.cc verifyTimestamp (Image repository only)"},
	check.TimestampVersion:    {true, true, "imagerepository.cc updateMeta: stored version > new: \"Rollback attempt\""},
	check.TimestampExpiry:     {true, true, "imagerepository.cc checkTimestampExpired, by its system clock"},

	check.SnapshotTimestampMatch: {true, true, "imagerepository.cc verifySnapshot: hashes and version from the Timestamp"},
	check.SnapshotSignatures:     {true, true, "imagerepository.cc verifySnapshot"},
	check.SnapshotVersion:        {true, true, "imagerepository.cc fetchSnapshot: \"Rollback attempt\""},
	check.SnapshotExpiry:         {true, true, "imagerepository.cc checkSnapshotExpired"},

	check.TargetsSnapshotMatch:         {true, true, "imagerepository.cc verifyTargets: hashes and version from the Snapshot (Image repository)"},
	check.TargetsSignatures:            {true, true, "Targets(…, MetaWithKeys(root)): UnmetThreshold (both repositories)"},
	check.TargetsThreshold:             {true, true, "MetaWithKeys: the role's threshold of distinct keys"},
	check.TargetsVersion:               {true, true, "directorrepository.cc / imagerepository.cc: stored version > new: \"Rollback attempt\" (an equal version is taken)"},
	check.TargetsExpiry:                {true, true, "checkTargetsExpired (both repositories)"},
	check.TargetsDirectorNoDelegations: {true, false, "directorrepository.cc targetsSanityCheck: \"Found unexpected delegation\""},
	check.TargetsDirectorUniqueECUs:    {true, false, "directorrepository.cc targetsSanityCheck: \"Found repeated ECU ID\""},

	check.FullVerificationImageRepository: {true, false, "aktualizr_secondary.cc verifyMetadata: the Image repository after the Director"},
	check.FullVerificationMatchHashes:     {true, false, "directorrepository.cc matchTargetsWithImageTargets: Target::MatchTarget (name, length, hashes)"},
	check.FullVerificationMatchCustom:     {true, false, "Target::MatchTarget: the Director's ECU → hardware map within the Image target's hardwareIds"},

	check.DownloadImageSize:     {true, true, "update_agent_file.cc receiveData: no byte past the target's length"},
	check.VerifyImageHardwareID: {true, true, "findTargets: only a target for its serial and hardware ID (Full), for its hardware ID (Tuf)"},
	check.VerifyImageHashes:     {true, true, "update_agent_file.cc install: length and SHA-256 of the received image"},
}

// AktualizrPerforms reports whether aktualizr-secondary with the given
// verification ("full" or "tuf") performs check id.
func AktualizrPerforms(id check.ID, verification string) bool {
	c, ok := AktualizrChecks[id]
	if verification == "tuf" {
		return ok && c.Tuf
	}
	return ok && c.Full
}

// aktualizrVerification is the rig's verification_type of an
// aktualizr-secondary, "full" or "tuf".
func aktualizrVerification(e *rigs.ECU) string {
	if e.Aktualizr.Verification == "tuf" {
		return "tuf"
	}
	return "full"
}

// ForAktualizr says whether the scenario can judge an aktualizr-secondary
// with the given verification ("full" or "tuf"): it applies when its attack
// reaches the Secondary over aktualizr-ip and aktualizr-secondary performs
// at least one check of its defence (AktualizrChecks).
func (s *Scenario) ForAktualizr(verification string) (Applicability, error) {
	if verification != "full" && verification != "tuf" {
		return Applicability{}, fmt.Errorf("scenario %s: aktualizr-secondary verifies full or tuf, not %q", s.Name, verification)
	}
	a := Applicability{DUT: check.SecondaryFull, Device: "aktualizr-secondary (" + verification + " verification)"}
	what := strings.TrimSpace(s.Attack + " " + transportWords[s.Transport])
	var others []string
	noTime, noNonce := false, false
	for _, id := range s.Defence {
		if AktualizrPerforms(id, verification) {
			a.Checks = append(a.Checks, id)
			continue
		}
		others = append(others, id.String())
		switch id {
		case check.VerifyTimeAttestation, check.VerifyTimeMonotonic, check.VerifyTimeBound:
			noTime = true
		case check.PoufReportNonce, check.DirectorRepositoryNonceFresh:
			noNonce = true
		}
	}
	// What the protocol does not carry rules a scenario out whatever else.
	var not []string
	if noTime {
		not = append(not, fmt.Sprintf("aktualizr-ip carries no attested time and aktualizr-secondary trusts its system clock: it performs none of %s", strings.Join(others, ", ")))
	}
	if noNonce {
		not = append(not, fmt.Sprintf("aktualizr-ip carries no nonce: aktualizr-secondary's manifests cannot be checked for freshness (%s)", strings.Join(others, ", ")))
	}
	if s.Transport == "bus" {
		not = append(not, "aktualizr-secondary is reached over aktualizr-ip on TCP only: no ISO-TP and no bus attacker node reaches it")
	}
	if len(not) > 0 {
		a.Checks = nil
		a.Reason = what + ": " + strings.Join(not, "; ")
		return a, nil
	}
	if len(s.Setup.Image.Delegations) > 0 {
		a.Checks = nil
		a.Reason = what + ": its images are signed by delegated roles, and aktualizr-ip carries the Image repository's top-level Targets only: aktualizr-secondary resolves no delegation (its Primary would have to), so none of the delegation's checks can be judged on it"
		return a, nil
	}
	if g := s.Goal; g.ServedOver > 0 || g.SlowerThan > 0 {
		a.Checks = nil
		a.Reason = what + ": its goal (the bytes or the time the attacker costs the Primary on its backend link) is not observed on the device under test"
		return a, nil
	}
	if len(a.Checks) > 0 {
		a.Applicable = true
		return a, nil
	}
	switch {
	case len(s.Defence) == 0:
		a.Reason = what + ": the scenario names no defence"
	default:
		a.Reason = fmt.Sprintf("%s: aktualizr-secondary performs none of its defence (%s; docs/aktualizr-ip.md lists what it checks)", what, strings.Join(others, ", "))
	}
	return a, nil
}

// dutOptions configures a play whose judged ECU is a device under test
// reached over aktualizr-ip: the Primary forwards, and sends the real
// aktualizr-secondary what it forwards, signed again by the keys that
// signed it (r.keyring).
func (r *runner) dutOptions(o RunOptions, vo *vehicle.Options) {
	if !o.forwarding {
		return
	}
	if p := vo.Rig.Primary(); p != nil {
		if vo.Profiles == nil {
			vo.Profiles = map[string]check.Profile{}
		}
		vo.Profiles[p.ID] = Forwarding()
	}
	vo.AktualizrForward = r.keyring
}

// keyring gives the signer of a key ID among the repositories' current
// keys and the keys the attacker holds.
func (r *runner) keyring(keyID string) keys.Signer {
	var all [][]keys.Signer
	for _, role := range []string{meta.Root, meta.Targets, meta.Snapshot, meta.Timestamp} {
		all = append(all, r.v.Image.Signers(role), r.v.Director.Signers(role))
	}
	for _, m := range []map[string][]keys.Signer{r.held, r.heldImage} {
		for _, role := range slices.Sorted(maps.Keys(m)) {
			all = append(all, m[role])
		}
	}
	for _, ss := range all {
		for _, s := range ss {
			if s.KeyID() == keyID {
				return s
			}
		}
	}
	return nil
}

// ReadAktualizrIdentity reads what an aktualizr-secondary says about
// itself: getInfoResp (serial, hardware ID, key; KeyID is aktualizr's key
// ID, the one its manifests name) and its signed manifest (the installed
// file, its release from the harness's image name). aktualizr-ip carries no
// VIN and no time: VIN and Time stay empty.
func ReadAktualizrIdentity(v *vehicle.Vehicle, ecu string) (Identity, error) {
	e := v.Rig.ECU(ecu)
	if e == nil || e.Protocol != rigs.AktualizrIP {
		return Identity{}, fmt.Errorf("scenarios: %s is no aktualizr-ip ECU of rig %s", ecu, v.Rig.Name)
	}
	c := &ip.Client{Dial: ip.TCP(e.Address, vehicle.AktualizrTimeout)}
	info, err := c.GetInfo()
	c.Close()
	if err != nil {
		return Identity{}, fmt.Errorf("scenarios: %s at %s: getInfo: %w", ecu, e.Address, err)
	}
	k, err := akdialect.KeyFromInfo(int64(info.KeyType), info.Key)
	if err != nil {
		return Identity{}, fmt.Errorf("scenarios: %s: %w", ecu, err)
	}
	in, err := v.Installed(ecu)
	if err != nil {
		return Identity{}, err
	}
	return Identity{ECU: info.ECUSerial, HardwareID: info.HardwareID, Profile: aktualizrVerification(e),
		KeyID: akdialect.KeyID(k), Installed: in.Name, Release: in.Release}, nil
}

// notApplicable is the one OnDUT result of a scenario that cannot judge
// the DUT.
func (s *Scenario) notApplicable(dut string, a Applicability) Result {
	return Result{Scenario: s.Name, Description: strings.TrimSpace(s.Description), Attack: s.Attack, Standard: s.Standard,
		Transport: s.Transport, ECU: dut, Profile: check.Conformant.Name, Expected: NotApplicable, Observed: NotApplicable,
		Detail: a.Reason, Target: OnDUT, Applicability: a.String()}
}

// PlayAktualizrDUT plays the scenario's conformant run against the device
// under test o.DUT, an aktualizr-ip ECU of o.Rig: the DUT takes the place of
// the Secondary the scenario judges (InPlaceOf), the Primary forwards what its
// backend link gives it, and the verdict is what the DUT's answers and its
// signed manifest show. A scenario that cannot judge it yields one
// NotApplicable result with the reason.
func (s *Scenario) PlayAktualizrDUT(o RunOptions) ([]Result, error) {
	return s.playAktualizr(o, false)
}

// PlayAktualizrTwin plays the control run on the DUT's twin: one of our
// Secondaries in its place (same id, hardware, address, over aktualizr-ip),
// without the scenario's defence, reached by the same forwarding Primary.
func (s *Scenario) PlayAktualizrTwin(o RunOptions) ([]Result, error) {
	return s.playAktualizr(o, true)
}

func (s *Scenario) playAktualizr(o RunOptions, twin bool) ([]Result, error) {
	if o.DUT == nil {
		return nil, fmt.Errorf("scenario %s: no device under test", s.Name)
	}
	dut := o.Rig.ECU(o.DUT.ECU)
	if dut == nil || dut.Protocol != rigs.AktualizrIP {
		return nil, fmt.Errorf("scenario %s: %s is no aktualizr-ip ECU of rig %s", s.Name, o.DUT.ECU, o.Rig.Name)
	}
	if dut.Process != rigs.AktualizrSecondary {
		return nil, fmt.Errorf("scenario %s: %s is an aktualizr-secondary uptane-hil does not start (process: %s): a DUT run provisions a fresh one per scenario and moves its clock, so the rig must say process: aktualizr-secondary (a bench one with its own clock and state is not supported yet)", s.Name, dut.ID, dut.Process)
	}
	a, err := s.ForAktualizr(aktualizrVerification(dut))
	if err != nil {
		return nil, err
	}
	rs, lacks, err := s.InPlaceOf(o.Rig, dut)
	if err != nil {
		return nil, err
	}
	if a.Applicable && lacks != "" {
		a.Applicable, a.Checks = false, nil
		a.Reason = strings.TrimSpace(s.Attack+" "+transportWords[s.Transport]) + ": " + lacks
	}
	if !a.Applicable {
		if twin {
			return nil, nil
		}
		return []Result{s.notApplicable(dut.ID, a)}, nil
	}
	// The DUT is judged by its own checks: any of them reported is its
	// defence (the scenario's expected detection names ours).
	if !twin {
		rs.Defence, rs.Detected = a.Checks, 0
	}
	po := o
	po.DUT = nil // played here, not by runOnDUT
	po.aktualizrDUT = dut.ID
	po.ConformantOnly = true
	target := OnDUT
	if twin {
		// ours in its place: same id, hardware and address, in this process
		r := *o.Rig
		r.ECUs = append([]rigs.ECU(nil), o.Rig.ECUs...)
		e := r.ECU(dut.ID)
		e.Process, e.Aktualizr = rigs.InProcess, rigs.AktualizrECU{}
		po.Rig, target = &r, Twin
		po.aktualizrDUT = ""
	}
	po.forwarding = true
	var results []Result
	if twin {
		results, err = rs.runProfile(po, true)
	} else {
		results, err = rs.runProfile(po, false)
	}
	if err != nil {
		return nil, err
	}
	for i := range results {
		results[i].Target, results[i].Applicability = target, a.String()
		if !twin {
			results[i].Detail = missing(&results[i], a, s, nil)
		}
	}
	return results, nil
}
