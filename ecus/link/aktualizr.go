package link

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/uptane/akdialect"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// Verification types of an aktualizr-secondary (its verification_type; the
// protocol does not say which one a Secondary uses).
const (
	AktualizrFull = "full" // Director Root and Targets, Image repository Root..Targets
	AktualizrTuf  = "tuf"  // Image repository only
)

// Report forms (pouf.Identity.Report) of Secondaries reached over
// aktualizr-ip: ReportAktualizr, aktualizr's signed ECU manifests
// (akdialect.Report); ReportNoNonce, our version reports with a nonce the
// ECU made itself (the protocol carries none from the Primary).
const (
	ReportAktualizr = "aktualizr"
	ReportNoNonce   = "uptane-hil, own nonce"
)

// DialectSource gives the current metadata of both repositories in
// aktualizr's dialect (signed by the backend with the repositories' keys).
type DialectSource func() (image, director *akdialect.Set, err error)

// AktualizrIP reaches a Secondary over aktualizr's IP Secondary protocol
// (ecus/aktualizrip, docs/aktualizr-ip.md). The Uptane steps map onto its
// messages: the nonce and the time are not carried (WriteNonce and WriteTime
// do nothing); PutMetadata collects the cycle's files; VerifyMetadata sends
// each intermediate Root the Secondary lacks (rootVerReq, putRootReq) and
// then putMetaReq2, whose answer is the Secondary's verdict; PutImage sends
// uploadDataReq chunks; VerifyImage does nothing (the Secondary checks the
// image when it installs); Install is installReq; VersionReport is
// manifestReq.
//
// With Dialect nil the Secondary is one of ours (secondary.IPServer): it
// gets our TUF-form files under their file names. With Dialect set it is an
// aktualizr-secondary: it gets aktualizr's dialect, and its version reports
// are aktualizr's signed manifests.
type AktualizrIP struct {
	C            *ip.Client
	Dialect      DialectSource
	Verification string // AktualizrFull (default) or AktualizrTuf; with Dialect only
	ECU          string // the identifier expected, for error messages
	// Forward, when set (with Dialect), sends an aktualizr-secondary what
	// the Primary forwards (PutMetadata) rather than the backend's current
	// metadata: each file in the dialect, signed again only by the key
	// that signed the original (akdialect.Forward). A device-under-test run
	// sets it: the Primary must not shield the Secondary.
	Forward akdialect.Keyring

	files  map[string]map[string][]byte
	target string
}

// Identity implements Secondary: getInfoResp. It closes the connection
// afterwards, as VersionReport does at the end of a cycle: the Secondary
// serves one connection at a time, so an idle open one would shut out every
// other client.
func (a *AktualizrIP) Identity() (pouf.Identity, error) {
	defer a.C.Close()
	info, err := a.C.GetInfo()
	if err != nil {
		return pouf.Identity{}, err
	}
	var key *metadata.Key
	if info.KeyType == ip.KeyUnknown {
		key = &metadata.Key{}
		if err := json.Unmarshal(info.Key, key); err != nil {
			return pouf.Identity{}, fmt.Errorf("aktualizr-ip %s: key of unknown type: %w", info.ECUSerial, err)
		}
	} else if key, err = akdialect.KeyFromInfo(int64(info.KeyType), info.Key); err != nil {
		return pouf.Identity{}, fmt.Errorf("aktualizr-ip %s: %w", info.ECUSerial, err)
	}
	id := pouf.Identity{ID: info.ECUSerial, HardwareID: info.HardwareID, Verification: "full", Key: key}
	id.Report = ReportNoNonce
	if a.Dialect != nil {
		id.Report = ReportAktualizr
	}
	return id, nil
}

// WriteNonce implements Secondary: the protocol carries no nonce.
func (a *AktualizrIP) WriteNonce([]byte) error { return nil }

// ErrNoTime is TimeNonce's answer over aktualizr-ip: the protocol carries
// no time attestation, so there is no nonce to attest.
var ErrNoTime = errors.New("aktualizr-ip carries no time attestation: the Secondary trusts its own clock")

// TimeNonce implements Secondary: there is none (ErrNoTime).
func (a *AktualizrIP) TimeNonce() ([]byte, error) { return nil, ErrNoTime }

// WriteTime implements Secondary: the protocol carries no time; the
// Secondary trusts its own clock.
func (a *AktualizrIP) WriteTime([]byte) error { return nil }

// PutMetadata implements Secondary: the file joins this cycle's set.
func (a *AktualizrIP) PutMetadata(repo, name string, data []byte, p pouf.Progress) error {
	if a.files == nil {
		a.files = map[string]map[string][]byte{}
	}
	if a.files[repo] == nil {
		a.files[repo] = map[string][]byte{}
	}
	a.files[repo][name] = data
	if p != nil {
		p(int64(len(data)), int64(len(data)))
	}
	return nil
}

// remote turns a result the Secondary reported into an error; a
// description that starts with one of our check names (our own Secondary)
// becomes that *check.Error.
func (a *AktualizrIP) remote(err error) error {
	var re *ip.ResultError
	if !errors.As(err, &re) {
		return err
	}
	if a.Dialect != nil {
		return akRefusal(a.ECU, re.Op.String(), re.Description, err)
	}
	if name, _, ok := strings.Cut(re.Description, " "); ok {
		if id, perr := check.ParseID(name); perr == nil {
			return fmt.Errorf("aktualizr-ip %s: %s: %w", a.ECU, re.Op, check.Fail(id, "", "", "%s", re.Description).OnECU(a.ECU))
		}
	}
	return fmt.Errorf("aktualizr-ip %s: %w", a.ECU, err)
}

func rootVersion(name string) (int64, bool) {
	v, ok := strings.CutSuffix(name, ".root.json")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// putRoots sends each Root of repo newer than the Secondary's and older than
// the latest (which goes with putMetaReq2), oldest first, as aktualizr's
// Primary does; it returns the files left for putMetaReq2.
func (a *AktualizrIP) putRoots(repo string, r ip.Repo) (map[string][]byte, error) {
	return a.putRootsAs(repo, r, nil)
}

// putRootsAs is putRoots with each intermediate Root rewritten by conv
// (nil: as it is).
func (a *AktualizrIP) putRootsAs(repo string, r ip.Repo, conv func([]byte) ([]byte, error)) (map[string][]byte, error) {
	rest := map[string][]byte{}
	var roots []int64
	byV := map[int64][]byte{}
	for name, b := range a.files[repo] {
		if v, ok := rootVersion(name); ok {
			roots = append(roots, v)
			byV[v] = b
			continue
		}
		rest[name] = b
	}
	if len(roots) == 0 {
		return rest, nil
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
	latest := roots[len(roots)-1]
	rest[meta.VersionedName(latest, meta.Root)] = byV[latest]
	cur, err := a.C.RootVersion(r)
	if err != nil {
		return nil, err
	}
	for _, v := range roots[:len(roots)-1] {
		if v <= cur {
			continue
		}
		b := byV[v]
		if conv != nil {
			var err error
			if b, err = conv(b); err != nil {
				return nil, fmt.Errorf("aktualizr-ip %s: Root %d in aktualizr's dialect: %w", a.ECU, v, err)
			}
		}
		if err := a.C.PutRoot(r, b); err != nil {
			return nil, a.remote(err)
		}
	}
	return rest, nil
}

func collection(files map[string][]byte) []ip.MetaJSON {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []ip.MetaJSON
	for _, n := range names {
		out = append(out, ip.MetaJSON{Role: n, JSON: files[n]})
	}
	return out
}

// noTargetForIt is how aktualizr-secondary answers metadata that assigns it
// nothing (findTargets: "Invalid number of targets (should be 1): 0").
const noTargetForIt = "Invalid number of targets (should be 1): 0"

// VerifyMetadata implements Secondary.
func (a *AktualizrIP) VerifyMetadata() (bool, error) {
	defer func() { a.files = nil }()
	var image, director []ip.MetaJSON
	if a.Dialect == nil {
		d, err := a.putRoots(meta.Director, ip.RepoDirector)
		if err != nil {
			return false, err
		}
		i, err := a.putRoots(meta.Image, ip.RepoImage)
		if err != nil {
			return false, err
		}
		image, director = collection(i), collection(d)
	} else if a.Forward != nil {
		var err error
		if image, director, err = a.forwarded(); err != nil {
			return false, err
		}
	} else {
		is, ds, err := a.Dialect()
		if err != nil {
			return false, fmt.Errorf("aktualizr-ip %s: metadata in aktualizr's dialect: %w", a.ECU, err)
		}
		image = []ip.MetaJSON{{Role: meta.Root, JSON: is.Root}, {Role: meta.Timestamp, JSON: is.Timestamp},
			{Role: meta.Snapshot, JSON: is.Snapshot}, {Role: meta.Targets, JSON: is.Targets}}
		if a.Verification != AktualizrTuf {
			director = []ip.MetaJSON{{Role: meta.Root, JSON: ds.Root}, {Role: meta.Targets, JSON: ds.Targets}}
		}
	}
	err := a.C.PutMeta(image, director)
	var re *ip.ResultError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &re) && re.Code == ip.ResultAlreadyProcessed:
		return false, nil
	case errors.As(err, &re) && a.Dialect != nil && strings.Contains(re.Description, noTargetForIt):
		return false, nil
	}
	return false, a.remote(err)
}

// forwarded is what the Primary forwarded this cycle, in the dialect: the
// intermediate Roots by putRootReq, the rest for putMetaReq2.
func (a *AktualizrIP) forwarded() (image, director []ip.MetaJSON, err error) {
	conv := func(b []byte) ([]byte, error) { return akdialect.ForwardRoot(b, a.Forward) }
	set := func(repo string, r ip.Repo, roles ...string) ([]ip.MetaJSON, error) {
		rest, err := a.putRootsAs(repo, r, conv)
		if err != nil {
			return nil, err
		}
		if len(rest) == 0 {
			return nil, nil
		}
		s, err := akdialect.Forward(rest, a.Forward)
		if err != nil {
			return nil, fmt.Errorf("aktualizr-ip %s: %s metadata in aktualizr's dialect: %w", a.ECU, repo, err)
		}
		by := map[string][]byte{meta.Root: s.Root, meta.Timestamp: s.Timestamp, meta.Snapshot: s.Snapshot, meta.Targets: s.Targets}
		var out []ip.MetaJSON
		for _, role := range roles {
			if by[role] != nil {
				out = append(out, ip.MetaJSON{Role: role, JSON: by[role]})
			}
		}
		return out, nil
	}
	if a.Verification != AktualizrTuf {
		if director, err = set(meta.Director, ip.RepoDirector, meta.Root, meta.Targets); err != nil {
			return nil, nil, err
		}
	}
	image, err = set(meta.Image, ip.RepoImage, meta.Root, meta.Timestamp, meta.Snapshot, meta.Targets)
	return image, director, err
}

// PutImage implements Secondary: uploadDataReq chunks.
func (a *AktualizrIP) PutImage(name string, data []byte, p pouf.Progress) error {
	a.target = name
	return a.remote(a.C.Upload(data, p))
}

// VerifyImage implements Secondary: the Secondary verifies the image when it
// installs it.
func (a *AktualizrIP) VerifyImage() error { return nil }

// Install implements Secondary: installReq.
func (a *AktualizrIP) Install() error { return a.remote(a.C.Install(a.target)) }

// Reset implements Secondary: nothing to do (a file-update Secondary
// installs without a reboot).
func (a *AktualizrIP) Reset() error { return nil }

// VersionReport implements Secondary: manifestReq, the last message of a
// cycle; the connection is closed after it.
func (a *AktualizrIP) VersionReport() ([]byte, error) {
	defer a.C.Close()
	return a.C.Manifest()
}

// Client returns the protocol client (an observer can watch its messages).
func (a *AktualizrIP) Client() *ip.Client { return a.C }
