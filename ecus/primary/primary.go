// Package primary is the Primary ECU. Its UpdateCycle performs the
// Standard's seven steps ({#construct_manifest_primary} …
// {#send_images_primary}): build and send the vehicle version manifest,
// load the time, download and fully verify metadata from both repositories,
// download and hash-check images, then hand each Secondary the time, the
// minimal metadata set and its image over the in-vehicle protocol, collect
// fresh signed version reports, and send the manifest again.
package primary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/link"
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// SecondaryConfig names one Secondary and how to reach it.
type SecondaryConfig struct {
	ID   string
	Bus  string
	Link link.Secondary
}

// Config describes the Primary.
type Config struct {
	VIN         string
	ID          string
	HardwareID  string
	Key         *keys.Private
	Clock       clock.Clock
	Client      *http.Client
	DirectorURL string // base of this vehicle's Director files, e.g. http://backend/director/VIN/
	ImageURL    string // base of the Image repository, e.g. http://backend/image/
	Dir         string
	Profile     check.Profile
	Limits      verify.Limits
	Secondaries []SecondaryConfig
	Events      events.Sink
	Nonces      io.Reader // randomness for nonces (sim/seed for replayable runs)
	Timeout     time.Duration
	MinRate     int64
	Grace       time.Duration
	Crash       store.CrashFunc
}

// Primary is a running Primary ECU.
type Primary struct {
	cfg      Config
	st       *store.Store
	director *verify.Repo
	image    *verify.Repo
	pinned   map[string]pouf.Identity
	df, imf  *Fetcher
	mu       sync.Mutex
}

const pinnedState = "secondaries.json"

// Provision is the factory: trusted roots of both repositories, the
// Primary's own image, and the identity (keys) of each Secondary, read over
// the in-vehicle link and pinned.
func Provision(cfg Config, directorRoot, imageRoot []byte, factory store.Image, data []byte) error {
	st, err := store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	if err != nil {
		return err
	}
	for _, rr := range []struct {
		repo string
		root []byte
	}{{meta.Director, directorRoot}, {meta.Image, imageRoot}} {
		r, err := verify.NewRepo(rr.repo, rr.root)
		if err != nil {
			return fmt.Errorf("primary %s: provision %s root: %w", cfg.ID, rr.repo, err)
		}
		if err := st.PutTrusted(rr.repo, r); err != nil {
			return err
		}
	}
	pinned := map[string]pouf.Identity{}
	for _, s := range cfg.Secondaries {
		id, err := s.Link.Identity()
		if err != nil {
			return fmt.Errorf("primary %s: provision: read identity of %s: %w", cfg.ID, s.ID, err)
		}
		if id.ID != s.ID {
			return fmt.Errorf("primary %s: provision: ECU at %s's address says it is %q", cfg.ID, s.ID, id.ID)
		}
		pinned[s.ID] = id
	}
	b, err := json.Marshal(pinned)
	if err != nil {
		return err
	}
	if err := st.PutMeta(pinnedState, b); err != nil {
		return err
	}
	return st.Install(factory, data)
}

// Boot starts the Primary from its state directory.
func Boot(cfg Config) (*Primary, error) {
	if cfg.Key == nil || cfg.Clock == nil || cfg.Client == nil {
		return nil, fmt.Errorf("primary %s: key, clock and HTTP client are required", cfg.ID)
	}
	st, err := store.Open(cfg.Dir, cfg.ID, cfg.Crash)
	if err != nil {
		return nil, err
	}
	p := &Primary{cfg: cfg, st: st}
	for repo, dst := range map[string]**verify.Repo{meta.Director: &p.director, meta.Image: &p.image} {
		b, err := st.Trusted(repo)
		if err != nil {
			return nil, fmt.Errorf("primary %s: %w", cfg.ID, err)
		}
		if *dst, err = verify.LoadRepo(b); err != nil {
			return nil, fmt.Errorf("primary %s: %s: %w", cfg.ID, store.TrustedName(repo), err)
		}
	}
	b, err := st.GetMeta(pinnedState)
	if err != nil {
		return nil, fmt.Errorf("primary %s: %s: %w", cfg.ID, pinnedState, err)
	}
	if err := json.Unmarshal(b, &p.pinned); err != nil {
		return nil, fmt.Errorf("primary %s: %s: %v", cfg.ID, pinnedState, err)
	}
	mk := func(repo, base string) *Fetcher {
		return &Fetcher{Repo: repo, Base: base, Client: cfg.Client, Clock: cfg.Clock, Timeout: cfg.Timeout,
			MinRate: cfg.MinRate, Grace: cfg.Grace, Profile: cfg.Profile}
	}
	p.df, p.imf = mk(meta.Director, cfg.DirectorURL), mk(meta.Image, cfg.ImageURL)
	return p, nil
}

// Outcomes of one ECU in a cycle.
const (
	Installed   = "installed"
	UpToDate    = "up-to-date"
	Failed      = "failed"
	Unreachable = "unreachable"
)

// ECUOutcome is what happened to one ECU in a cycle.
type ECUOutcome struct {
	ECU            string
	Status         string
	Target         string
	ReleaseCounter uint64
	Err            error
	// Report is the ECU's last signed version report (JSON).
	Report []byte
}

// CycleReport is the outcome of one update cycle.
type CycleReport struct {
	Started, Finished time.Time
	// Err is a failure of the Primary itself (metadata verification, image
	// download); Secondaries then keep their images.
	Err error
	// Stopped is set when verification stopped early (no new updates).
	Stopped string
	ECUs    map[string]*ECUOutcome
	// Primary is what happened to the Primary's own image this cycle
	// ({#download_images_primary}, {#install_image}): UpToDate when the
	// Director assigned it nothing new.
	Primary *ECUOutcome
	// ManifestErr is the Director's answer to the final manifest, if it
	// refused it.
	ManifestErr error
}

func (p *Primary) emit(e events.Event) {
	if p.cfg.Events != nil {
		if e.Time.IsZero() {
			e.Time = p.cfg.Clock.Now()
		}
		p.cfg.Events(e)
	}
}

func (p *Primary) phase(ecu, label string) {
	p.emit(events.Event{Kind: events.Phase, From: p.cfg.ID, To: ecu, ECU: ecu, Label: label})
}

// Director returns the trusted Director metadata (a copy).
func (p *Primary) Director() *verify.Repo { return p.director.Clone() }

// State returns the Primary's persisted state.
func (p *Primary) State() store.State { return p.st.State() }

// ActiveImage returns the Primary's own image in its active slot and its
// bytes.
func (p *Primary) ActiveImage() (*store.Image, []byte, error) { return p.st.ReadActive() }

func (p *Primary) recordAttack(err error) {
	ce, ok := check.As(err)
	if !ok {
		return
	}
	at := p.cfg.Clock.Now()
	_ = p.st.Update("attack", func(s *store.State) error {
		if len(s.Attacks) < manifest.MaxAttacks {
			s.Attacks = append(s.Attacks, store.AttackRecord{Check: ce.Check, Attack: ce.Attack, Detail: ce.Error(), At: at})
		}
		return nil
	})
}

func (p *Primary) nonce() ([]byte, error) {
	n := make([]byte, 16)
	r := p.cfg.Nonces
	if r == nil {
		return nil, errors.New("primary: no nonce source")
	}
	if _, err := io.ReadFull(r, n); err != nil {
		return nil, err
	}
	return n, nil
}

// retry runs op up to three times while it fails (any failure: a transport
// error, but also a check the Secondary reports failed).
func retry(op func() error) error {
	var err error
	for i := 0; i < 3; i++ {
		if err = op(); err == nil {
			return nil
		}
	}
	return err
}

// collectReports is {#construct_manifest_primary}: a fresh nonce to each
// Secondary, then its signed version report, checked against the pinned key
// and the nonce.
func (p *Primary) collectReports(out map[string]*ECUOutcome) []manifest.SignedReport {
	var reports []manifest.SignedReport
	for _, s := range p.cfg.Secondaries {
		o := out[s.ID]
		n, err := p.nonce()
		if err != nil {
			o.Status, o.Err = Failed, err
			continue
		}
		p.emit(events.Event{Kind: events.UDS, From: p.cfg.ID, To: s.ID, ECU: s.ID, Label: "write nonce"})
		var raw []byte
		err = retry(func() error {
			if err := s.Link.WriteNonce(n); err != nil {
				return err
			}
			var err error
			raw, err = s.Link.VersionReport()
			return err
		})
		if err != nil {
			o.Status, o.Err = Unreachable, err
			p.emit(events.Event{Kind: events.Result, ECU: s.ID, Label: "no version report", Err: err.Error()})
			continue
		}
		p.emit(events.Event{Kind: events.UDS, From: s.ID, To: p.cfg.ID, ECU: s.ID, Label: "version report"})
		sr, err := p.checkReport(s.ID, raw, n)
		if err != nil {
			p.recordAttack(err)
			o.Status, o.Err = Failed, err
			continue
		}
		o.Report = raw
		reports = append(reports, *sr)
	}
	return reports
}

func (p *Primary) checkReport(ecu string, raw, nonce []byte) (*manifest.SignedReport, error) {
	sr, err := manifest.ParseReport(raw, manifest.MaxReportSize)
	if err != nil {
		return nil, check.Fail(check.PoufReportSignature, "", "", "version report of %s does not parse: %v", ecu, err).OnECU(ecu)
	}
	id := p.pinned[ecu]
	if p.cfg.Profile.On(check.PoufReportSignature) {
		if sr.Signed.ECUSerial != ecu {
			return nil, check.Fail(check.PoufReportSignature, "", "", "the ECU at %s's address reported as %q", ecu, sr.Signed.ECUSerial).OnECU(ecu)
		}
		if id.Key == nil {
			return nil, check.Fail(check.PoufReportSignature, "", "", "no pinned key for %s", ecu).OnECU(ecu)
		}
		if err := sr.Verify(id.Key); err != nil {
			return nil, check.Fail(check.PoufReportSignature, "", "", "version report of %s: %v", ecu, err).OnECU(ecu)
		}
	}
	if p.cfg.Profile.On(check.PoufReportNonce) && !bytes.Equal(sr.Signed.Nonce, nonce) {
		return nil, check.Fail(check.PoufReportNonce, "", "", "version report of %s carries nonce %x, not the %x just written", ecu, []byte(sr.Signed.Nonce), nonce).OnECU(ecu)
	}
	return sr, nil
}

// VersionReport is the Primary's own signed version report (JSON), as the
// next vehicle manifest would carry it.
func (p *Primary) VersionReport() ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sr, err := p.ownReport()
	if err != nil {
		return nil, err
	}
	return sr.Encode()
}

// ownReport is the Primary's own version report.
func (p *Primary) ownReport() (manifest.SignedReport, error) {
	n, err := p.nonce()
	if err != nil {
		return manifest.SignedReport{}, err
	}
	var counter uint64
	err = p.st.Update("report", func(s *store.State) error {
		s.ReportCounter++
		counter = s.ReportCounter
		for i := range s.Attacks {
			s.Attacks[i].Reported = true
		}
		return nil
	})
	if err != nil {
		return manifest.SignedReport{}, err
	}
	st := p.st.State()
	var img manifest.Image
	if in := st.Installed(); in != nil {
		img = manifest.Image{Filename: in.Name, Length: in.Length, Hashes: in.Hashes}
	}
	var attacks []manifest.DetectedAttack
	for _, a := range st.Attacks {
		attacks = append(attacks, manifest.DetectedAttack{Check: a.Check, Attack: a.Attack, Detail: a.Detail})
	}
	return manifest.SignReport(manifest.NewReport(p.cfg.ID, img, attacks, p.cfg.Clock.Now(), n, counter), p.cfg.Key)
}

// sendManifest signs and POSTs the vehicle version manifest.
func (p *Primary) sendManifest(reports []manifest.SignedReport) error {
	own, err := p.ownReport()
	if err != nil {
		return err
	}
	m := manifest.VehicleManifest{VIN: p.cfg.VIN, PrimaryID: p.cfg.ID, Reports: append([]manifest.SignedReport{own}, reports...)}
	sm, err := manifest.SignManifest(m, p.cfg.Key)
	if err != nil {
		return err
	}
	body, err := sm.Encode()
	if err != nil {
		return err
	}
	u, err := url.JoinPath(p.cfg.DirectorURL, "manifest")
	if err != nil {
		return err
	}
	p.emit(events.Event{Kind: events.HTTP, From: p.cfg.ID, To: events.Director, Label: fmt.Sprintf("POST manifest (%d reports)", len(m.Reports))})
	q := clock.NewQueue[error](p.cfg.Clock, 1)
	p.cfg.Clock.Go("http POST manifest", func() {
		resp, err := p.cfg.Client.Post(u, "application/json", bytes.NewReader(body))
		if err != nil {
			q.TryPush(err)
			return
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode/100 != 2 {
			q.TryPush(fmt.Errorf("primary: Director refused the manifest: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg))))
			return
		}
		q.TryPush(nil)
	})
	timeout := p.cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	err, qerr := q.Pop(timeout)
	if qerr != nil {
		return check.Fail(check.InVehicleRequestTimeout, meta.Director, "", "POST manifest got no answer within %s", timeout)
	}
	return err
}

// UpdateCycle runs one update cycle.
func (p *Primary) UpdateCycle() *CycleReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := &CycleReport{Started: p.cfg.Clock.Now(), ECUs: map[string]*ECUOutcome{}, Primary: &ECUOutcome{ECU: p.cfg.ID, Status: UpToDate}}
	for _, s := range p.cfg.Secondaries {
		rep.ECUs[s.ID] = &ECUOutcome{ECU: s.ID, Status: UpToDate}
	}
	defer func() { rep.Finished = p.cfg.Clock.Now() }()

	// 1. Construct and send the vehicle version manifest.
	p.phase("", "construct manifest")
	reports := p.collectReports(rep.ECUs)
	if err := p.sendManifest(reports); err != nil {
		p.emit(events.Event{Kind: events.Note, Label: "manifest not accepted", Err: err.Error()})
	}
	// 2. Download and check current time: the run's clock is the secure source.
	now := p.cfg.Clock.Now()
	// 3. Download and verify metadata.
	p.phase("", "download and verify metadata")
	installed := map[string]*metadata.TargetFiles{}
	ids := []string{}
	for _, s := range p.cfg.Secondaries {
		ids = append(ids, s.ID)
		if o := rep.ECUs[s.ID]; o.Report != nil {
			if sr, err := manifest.ParseReport(o.Report, manifest.MaxReportSize); err == nil {
				in := sr.Signed.Installed
				installed[s.ID] = &metadata.TargetFiles{Path: in.Filename, Length: in.Length, Hashes: in.Hashes}
			}
		}
	}
	ids = append(ids, p.cfg.ID)
	pst := p.st.State()
	if own := pst.Installed(); own != nil {
		installed[p.cfg.ID] = &metadata.TargetFiles{Path: own.Name, Length: own.Length, Hashes: own.Hashes}
	}
	o := verify.Options{Profile: p.cfg.Profile, Limits: p.cfg.Limits, Time: now}
	d, im := p.director.Clone(), p.image.Clone()
	res, err := verify.FullVerification(o, verify.Scope{Primary: true, ECUs: ids, Installed: installed}, d, im,
		fetchLog{p, p.df, events.Director}, fetchLog{p, p.imf, events.Image})
	if err != nil {
		p.recordAttack(err)
		rep.Err = err
		p.emit(events.Event{Kind: events.Result, From: p.cfg.ID, Label: "metadata verification failed", Err: err.Error()})
		p.finish(rep)
		return rep
	}
	if res.Stopped == verify.NoNewUpdates {
		// No new metadata, but an update verified earlier may not have
		// been installed everywhere (power loss, a failed download).
		pend := verify.Pending(o, verify.Scope{Primary: true, ECUs: ids, Installed: installed}, d)
		if len(pend) > 0 {
			res.Targets = pend
			p.emit(events.Event{Kind: events.Note, From: p.cfg.ID, Label: fmt.Sprintf("no new metadata; resuming the verified update of %d ECU(s)", len(pend))})
		}
	}
	if res.Stopped != "" || len(res.Targets) == 0 {
		rep.Stopped = res.Stopped
		if len(res.Targets) == 0 {
			p.emit(events.Event{Kind: events.Note, From: p.cfg.ID, Label: "no new updates: " + res.Stopped})
		}
	}
	// 4. Download and verify images.
	// The Primary's own image is downloaded and verified as a Secondary's
	// is ({#verify_image}: hardware identifier, filename, release counter,
	// length and every hash, against the Director Targets just verified).
	images := map[string][]byte{}
	var missing []string
	outcome := func(ecu string) *ECUOutcome {
		if ecu == p.cfg.ID {
			return rep.Primary
		}
		return rep.ECUs[ecu]
	}
	for _, ecu := range sortedKeys(res.Targets) {
		t := res.Targets[ecu]
		p.phase(ecu, "download image "+t.Name)
		b, err := p.downloadImage(ecu, t)
		if err == nil && ecu == p.cfg.ID {
			b, err = p.verifyOwnImage(o, d, b)
		}
		if err != nil {
			p.recordAttack(err)
			if oc := outcome(ecu); oc != nil {
				oc.Status, oc.Err = Failed, err
			}
			missing = append(missing, ecu)
			continue
		}
		images[ecu] = b
	}
	// {#download_image} step 4: when an image could not be downloaded, the
	// Primary keeps its previous trusted metadata (the next cycle verifies
	// the new metadata again and retries); otherwise the metadata naming
	// the images it now holds becomes trusted.
	if len(missing) == 0 || !p.cfg.Profile.On(check.DownloadImagePreviousTargets) {
		if err := p.saveRepos(d, im); err != nil {
			rep.Err = err
			p.finish(rep)
			return rep
		}
	}
	if len(missing) > 0 && p.cfg.Profile.On(check.SendImagesPrimaryCompleteBundle) {
		err := check.Fail(check.SendImagesPrimaryCompleteBundle, meta.Image, "", "images for %s could not be downloaded; no image of this bundle is installed", strings.Join(missing, ", "))
		p.recordAttack(err)
		for ecu := range res.Targets {
			if o := outcome(ecu); o != nil {
				o.Status, o.Err = Failed, errors.Join(err, o.Err)
			}
		}
		images = map[string][]byte{}
		res.Targets = map[string]*verify.ECUTarget{}
	}
	// 5–7. Send time, metadata and images to the Secondaries.
	for _, s := range p.cfg.Secondaries {
		o := rep.ECUs[s.ID]
		if o.Status == Unreachable || (o.Status == Failed && images[s.ID] == nil && res.Targets[s.ID] != nil) {
			continue
		}
		p.updateSecondary(s, now, res, res.Targets[s.ID], images[s.ID], o)
	}
	// The Primary installs its own image last, so that its Secondaries
	// were served by the software that verified their images.
	if t, img := res.Targets[p.cfg.ID], images[p.cfg.ID]; t != nil && img != nil {
		p.installOwn(t, img, rep.Primary)
	}
	p.finish(rep)
	return rep
}

// verifyOwnImage is {#verify_image} on the Primary's own image, against
// the Director metadata d verified this cycle; it returns the image to
// install.
func (p *Primary) verifyOwnImage(o verify.Options, d *verify.Repo, b []byte) ([]byte, error) {
	ecu := verify.ECU{ID: p.cfg.ID, HardwareID: p.cfg.HardwareID}
	st := p.st.State()
	if img := st.Installed(); img != nil {
		rc := img.ReleaseCounter
		ecu.ReleaseCounter = &rc
	}
	return verify.VerifyImage(o, d, ecu, b)
}

// installOwn is {#install_image} on the Primary: the verified image goes
// to the inactive slot, then the slots switch atomically (ecus/store); the
// next version report names it.
func (p *Primary) installOwn(t *verify.ECUTarget, img []byte, oc *ECUOutcome) {
	p.phase(p.cfg.ID, "install "+t.Name)
	oc.Target = t.Name
	var rc uint64
	if t.Custom != nil {
		rc = t.Custom.Uptane.ReleaseCounter
	}
	oc.ReleaseCounter = rc
	length, hashes := int64(len(img)), meta.HashesOf(img)
	if p.cfg.Profile.On(check.VerifyImageHashes) {
		length, hashes = t.Director.Length, t.Director.Hashes
	}
	if err := p.st.Install(store.Image{Name: t.Name, Length: length, Hashes: hashes, ReleaseCounter: rc}, img); err != nil {
		oc.Status, oc.Err = Failed, err
		return
	}
	oc.Status = Installed
	p.emit(events.Event{Kind: events.Result, ECU: p.cfg.ID, Label: Installed})
}

// finish collects fresh version reports and sends the final manifest.
func (p *Primary) finish(rep *CycleReport) {
	p.phase("", "send manifest")
	after := map[string]*ECUOutcome{}
	for _, s := range p.cfg.Secondaries {
		after[s.ID] = &ECUOutcome{ECU: s.ID}
	}
	reports := p.collectReports(after)
	for id, a := range after {
		if a.Report != nil {
			rep.ECUs[id].Report = a.Report
		} else if a.Err != nil && rep.ECUs[id].Err == nil {
			rep.ECUs[id].Status, rep.ECUs[id].Err = a.Status, a.Err
		}
	}
	if err := p.sendManifest(reports); err != nil {
		rep.ManifestErr = err
	}
	for _, id := range sortedOutcomes(rep.ECUs) {
		o := rep.ECUs[id]
		e := events.Event{Kind: events.Result, ECU: id, Label: o.Status}
		if o.Err != nil {
			e.Err = o.Err.Error()
		}
		p.emit(e)
	}
}

func sortedOutcomes(m map[string]*ECUOutcome) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedKeys(m map[string]*verify.ECUTarget) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (p *Primary) saveRepos(d, im *verify.Repo) error {
	if err := p.st.PutTrusted(meta.Director, d); err != nil {
		return err
	}
	if err := p.st.PutTrusted(meta.Image, im); err != nil {
		return err
	}
	p.director, p.image = d, im
	return nil
}

// downloadImage is {#download_images_primary}: the image (or, when it is
// encrypted for the ECU, the encrypted image from the Director) is
// downloaded up to its length and every listed hash is checked.
func (p *Primary) downloadImage(ecu string, t *verify.ECUTarget) ([]byte, error) {
	f, name, length, hashes := p.imf, "", t.Director.Length, t.Director.Hashes
	if et, ok := t.Custom.ECUIdentifiers[ecu]; ok && et.Encrypted != nil {
		f, length, hashes = p.df, et.Encrypted.Length, et.Encrypted.Hashes
		name = "targets/" + meta.ImageNames(et.Encrypted.Filename, hashes)[0]
	} else {
		names := meta.ImageNames(t.Name, hashes)
		if len(names) == 0 {
			return nil, check.Fail(check.VerifyImageHashes, meta.Director, meta.Targets, "image %s has no hashes", t.Name).OnECU(ecu)
		}
		name = "targets/" + names[0]
	}
	limit := length
	if !p.cfg.Profile.On(check.DownloadImageSize) {
		limit = 1 << 30
	}
	p.emit(events.Event{Kind: events.HTTP, From: p.cfg.ID, To: f.Repo, ECU: ecu, Label: "GET " + name})
	b, err := f.Fetch(name, limit)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("primary: image %s for %s: %w", t.Name, ecu, err)
		}
		return nil, err
	}
	if int64(len(b)) > length && p.cfg.Profile.On(check.DownloadImageSize) {
		return nil, check.Fail(check.DownloadImageSize, f.Repo, "", "image %s is longer than the %d bytes in the metadata", t.Name, length).OnECU(ecu)
	}
	if p.cfg.Profile.On(check.VerifyImageHashes) {
		if err := meta.CheckHashes(b, length, hashes); err != nil {
			return nil, check.Fail(check.VerifyImageHashes, f.Repo, "", "image %s: %v", t.Name, err).OnECU(ecu)
		}
	}
	return b, nil
}

func (p *Primary) updateSecondary(s SecondaryConfig, now time.Time, res *verify.Result, t *verify.ECUTarget, img []byte, o *ECUOutcome) {
	fail := func(status string, err error) {
		o.Status, o.Err = status, err
	}
	// 5. Send the latest time.
	p.phase(s.ID, "send time")
	if err := retry(func() error { return s.Link.WriteTime(now) }); err != nil {
		fail(Unreachable, err)
		return
	}
	// 6. Send metadata: the minimal set for this ECU.
	p.phase(s.ID, "send metadata")
	id := p.pinned[s.ID]
	var sets []struct {
		repo  string
		files map[string][]byte
	}
	if id.Verification == "partial" {
		sets = append(sets, struct {
			repo  string
			files map[string][]byte
		}{meta.Director, res.PartialFilesFor(s.ID)})
	} else {
		fs := res.FilesFor(s.ID)
		sets = append(sets, struct {
			repo  string
			files map[string][]byte
		}{meta.Director, fs.Director}, struct {
			repo  string
			files map[string][]byte
		}{meta.Image, fs.Image})
	}
	for _, set := range sets {
		names := make([]string, 0, len(set.files))
		for n := range set.files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			data := set.files[n]
			p.emit(events.Event{Kind: events.UDS, From: p.cfg.ID, To: s.ID, ECU: s.ID, Label: "file " + set.repo + "/" + n})
			err := retry(func() error {
				return s.Link.PutMetadata(set.repo, n, data, func(done, total int64) {
					p.emit(events.Event{Kind: events.Transfer, ECU: s.ID, Label: set.repo + "/" + n, Done: done, Total: total, Bus: s.Bus})
				})
			})
			if err != nil {
				fail(Failed, err)
				return
			}
		}
	}
	p.phase(s.ID, "verify metadata")
	newImage, err := s.Link.VerifyMetadata()
	if err != nil {
		fail(Failed, err)
		return
	}
	if !newImage || t == nil || img == nil {
		if o.Err == nil {
			// nothing new for it; an ECU that failed earlier in this cycle
			// (its image, its version report) stays failed
			o.Status = UpToDate
		}
		return
	}
	// 7. Send the image.
	o.Target = t.Name
	if t.Custom != nil {
		o.ReleaseCounter = t.Custom.Uptane.ReleaseCounter
	}
	p.phase(s.ID, "send image "+t.Name)
	p.emit(events.Event{Kind: events.UDS, From: p.cfg.ID, To: s.ID, ECU: s.ID, Label: fmt.Sprintf("image %s (%d bytes)", t.Name, len(img))})
	err = retry(func() error {
		return s.Link.PutImage(t.Name, img, func(done, total int64) {
			p.emit(events.Event{Kind: events.Transfer, ECU: s.ID, Label: "image " + t.Name, Done: done, Total: total, Bus: s.Bus})
		})
	})
	if err != nil {
		fail(Failed, err)
		return
	}
	p.phase(s.ID, "verify image")
	if err := s.Link.VerifyImage(); err != nil {
		fail(Failed, err)
		return
	}
	p.phase(s.ID, "install")
	if err := s.Link.Install(); err != nil {
		fail(Failed, err)
		return
	}
	p.phase(s.ID, "reset")
	if err := retry(s.Link.Reset); err != nil {
		fail(Unreachable, err)
		return
	}
	o.Status = Installed
}

// fetchLog reports each download as an event.
type fetchLog struct {
	p    *Primary
	f    *Fetcher
	repo string
}

func (l fetchLog) Fetch(name string, max int64) ([]byte, error) {
	b, err := l.f.Fetch(name, max)
	e := events.Event{Kind: events.HTTP, From: l.p.cfg.ID, To: l.repo, Label: "GET " + name}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			e.Label += " (404)"
		} else {
			e.Err = err.Error()
		}
	}
	l.p.emit(e)
	return b, err
}
