package primary

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/sim/events"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// UpdateCycle runs one update cycle: the seven steps of the Primary in the
// Standard ({#primary}), in order. Steps 5 to 7 run for each Secondary
// (updateSecondary), the buses at once (updateSecondaries).
func (p *Primary) UpdateCycle() *CycleReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := &CycleReport{Started: p.cfg.Clock.Now(), ECUs: map[string]*ECUOutcome{}, Primary: &ECUOutcome{ECU: p.cfg.ID, Status: UpToDate}}
	for _, s := range p.cfg.Secondaries {
		rep.ECUs[s.ID] = &ECUOutcome{ECU: s.ID, Status: UpToDate}
	}
	defer func() { rep.Finished = p.cfg.Clock.Now() }()

	p.constructAndSendManifest(rep)
	now, att, timeErr := p.checkTime()
	if timeErr != nil {
		// keep the latest attested time; say so in the cycle's outcome
		p.recordAttack(timeErr)
		p.emit(events.Event{Kind: events.Result, From: p.cfg.ID, Label: "time attestation refused", Err: timeErr.Error()})
		defer func() { rep.Err = errors.Join(timeErr, rep.Err) }()
	}
	res, vr, ok := p.downloadAndVerifyMetadata(rep, now)
	if !ok {
		return rep
	}
	images, ok := p.downloadAndVerifyImages(rep, res, vr)
	if !ok {
		return rep
	}
	p.updateSecondaries(rep, att, res, images)
	// The Primary installs its own image last, so that its Secondaries
	// were served by the software that verified their images.
	if t, img := res.Targets[p.cfg.ID], images[p.cfg.ID]; t != nil && img != nil {
		p.installOwn(t, img, rep.Primary)
	}
	p.finish(rep)
	return rep
}

// verified is the metadata verified this cycle, not yet trusted
// ({#download_image} step 4: it becomes trusted with the images it names).
type verified struct {
	director, image *verify.Repo
	opts            verify.Options
}

// constructAndSendManifest is step 1, {#construct_manifest_primary}: a
// version report from each Secondary (collectReports) and the Primary's
// own, signed into the vehicle version manifest and sent to the Director.
func (p *Primary) constructAndSendManifest(rep *CycleReport) {
	p.phase("", "construct manifest")
	reports := p.collectReports(rep.ECUs)
	if err := p.sendManifest(reports); err != nil {
		p.emit(events.Event{Kind: events.Note, Label: "manifest not accepted", Err: err.Error()})
	}
}

// downloadAndVerifyMetadata is step 3, {#download_meta_primary}: full
// verification of the Director's and the Image repository's metadata for
// every ECU of the vehicle (trusted in step 4, once the Primary holds the
// images it names: download_image.previous_targets). With no new
// metadata, an update verified earlier but not installed everywhere is
// resumed (verify.Pending). ok is false when the cycle ends here (a failed
// check: the cycle is finished and reported; the metadata not saved).
func (p *Primary) downloadAndVerifyMetadata(rep *CycleReport, now time.Time) (res *verify.Result, vr verified, ok bool) {
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
	o := verify.Options{Profile: p.cfg.Profile, Limits: p.cfg.Limits, Time: now, VIN: p.cfg.VIN}
	d, im := p.director.Clone(), p.image.Clone()
	res, err := verify.FullVerification(o, verify.Scope{Primary: true, ECUs: ids, Installed: installed}, d, im,
		fetchLog{p, p.df, events.Director}, fetchLog{p, p.imf, events.Image})
	if err != nil {
		p.recordAttack(err)
		rep.Err = err
		p.emit(events.Event{Kind: events.Result, From: p.cfg.ID, Label: "metadata verification failed", Err: err.Error()})
		p.finish(rep)
		return nil, vr, false
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
	return res, verified{director: d, image: im, opts: o}, true
}

// downloadAndVerifyImages is step 4, {#download_images_primary}: the image
// of every ECU with a new target, the Primary's own included (downloadImage;
// the Primary's own is verified as a Secondary's is: {#verify_image},
// hardware identifier, filename, release counter, length and every hash).
// When every image is held, the metadata naming them becomes trusted; when
// one cannot be had, the previous trusted metadata stays
// (download_image.previous_targets) and no image of the bundle is sent
// (send_images_primary.complete_bundle): every ECU of the bundle fails and
// res.Targets is emptied. ok is false when the cycle ends here.
func (p *Primary) downloadAndVerifyImages(rep *CycleReport, res *verify.Result, vr verified) (map[string][]byte, bool) {
	images := map[string][]byte{}
	var missing []string
	outcome := func(ecu string) *ECUOutcome {
		if ecu == p.cfg.ID {
			return rep.Primary
		}
		return rep.ECUs[ecu]
	}
	for _, ecu := range slices.Sorted(maps.Keys(res.Targets)) {
		t := res.Targets[ecu]
		p.phase(ecu, "download image "+t.Name)
		b, err := p.downloadImage(ecu, t)
		if err == nil && ecu == p.cfg.ID {
			b, err = p.verifyOwnImage(vr.opts, vr.director, b)
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
	if len(missing) == 0 || !p.cfg.Profile.On(check.DownloadImagePreviousTargets) {
		if err := p.saveRepos(vr.director, vr.image); err != nil {
			rep.Err = err
			p.finish(rep)
			return nil, false
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
	return images, true
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
			rep.ECUs[id].Reports = append(rep.ECUs[id].Reports, a.Reports...)
		} else if a.Err != nil && rep.ECUs[id].Err == nil {
			rep.ECUs[id].Status, rep.ECUs[id].Err = a.Status, a.Err
		}
	}
	reports.refusals = refusals(rep)
	if err := p.sendManifest(reports); err != nil {
		rep.ManifestErr = err
	}
	for _, id := range slices.Sorted(maps.Keys(rep.ECUs)) {
		o := rep.ECUs[id]
		e := events.Event{Kind: events.Result, ECU: id, Label: o.Status}
		if o.Err != nil {
			e.Err = o.Err.Error()
		}
		p.emit(e)
	}
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

// updateSecondary runs steps 5 to 7 for one Secondary and records the
// outcome in o: the latest time, its metadata (which it verifies), and,
// when it reports a new image for itself, the image (which it verifies and
// installs before it resets).
func (p *Primary) updateSecondary(s SecondaryConfig, att []byte, res *verify.Result, t *verify.ECUTarget, img []byte, o *ECUOutcome) {
	fail := func(status string, err error) {
		o.Status, o.Err = status, err
	}
	// a step the ECU refuses for its programming preconditions waits for
	// them (whenConditionsHold), within one budget for the whole update
	w := conditionsWait{s: s, o: o}
	p.sendTime(s, att)
	if err := p.whenConditionsHold(w, "send metadata", func() error { return p.sendMetadata(s, res) }); err != nil {
		fail(Failed, err)
		return
	}
	var newImage bool
	err := p.whenConditionsHold(w, "verify metadata", func() error {
		p.phase(s.ID, "verify metadata")
		var err error
		newImage, err = s.Link.VerifyMetadata()
		return err
	})
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
	o.Target = t.Name
	if t.Custom != nil {
		o.ReleaseCounter = t.Custom.Uptane.ReleaseCounter
	}
	if err := p.whenConditionsHold(w, "send image", func() error { return p.sendImage(s, t, img) }); err != nil {
		fail(Failed, err)
		return
	}
	if status, err := p.verifyInstallReset(s, w); err != nil {
		fail(status, err)
		return
	}
	o.Status = Installed
}

// sendTime is step 5, {#send_time_primary}: the time server's attestation
// of this cycle (checkTime), to the Secondary. The ECU checks it against
// its own nonce; a refusal is its to report (it keeps its latest attested
// time), not a reason to skip its update. Sent again only when it did not
// arrive, never after a refusal.
func (p *Primary) sendTime(s SecondaryConfig, att []byte) {
	if att == nil {
		return
	}
	p.phase(s.ID, "send time")
	_ = retryUnlessRefused(func() error { return s.Link.WriteTime(att) })
}

// metadataSet is the metadata files of one repository sent to a Secondary.
type metadataSet struct {
	repo  string
	files map[string][]byte
}

// sendMetadata is step 6, {#send_metadata_primary}: the minimal set of
// metadata for the Secondary's verification, the Director's for partial
// verification, the Director's then the Image repository's for full, each
// repository's files in name order.
func (p *Primary) sendMetadata(s SecondaryConfig, res *verify.Result) error {
	p.phase(s.ID, "send metadata")
	var sets []metadataSet
	if p.pinned[s.ID].Verification == "partial" {
		sets = append(sets, metadataSet{meta.Director, res.PartialFilesFor(s.ID)})
	} else {
		fs := res.FilesFor(s.ID)
		sets = append(sets, metadataSet{meta.Director, fs.Director}, metadataSet{meta.Image, fs.Image})
	}
	for _, set := range sets {
		for _, n := range slices.Sorted(maps.Keys(set.files)) {
			data := set.files[n]
			p.emit(events.Event{Kind: events.UDS, From: p.cfg.ID, To: s.ID, ECU: s.ID, Label: "file " + set.repo + "/" + n})
			err := retryUnlessConditions(func() error {
				return s.Link.PutMetadata(set.repo, n, data, func(done, total int64) {
					p.emit(events.Event{Kind: events.Transfer, ECU: s.ID, Label: set.repo + "/" + n, Done: done, Total: total, Bus: s.Bus})
				})
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// sendImage is step 7, {#send_images_primary}: the image, to the Secondary
// it is for.
func (p *Primary) sendImage(s SecondaryConfig, t *verify.ECUTarget, img []byte) error {
	p.phase(s.ID, "send image "+t.Name)
	p.emit(events.Event{Kind: events.UDS, From: p.cfg.ID, To: s.ID, ECU: s.ID, Label: fmt.Sprintf("image %s (%d bytes)", t.Name, len(img))})
	return retryUnlessConditions(func() error {
		return s.Link.PutImage(t.Name, img, func(done, total int64) {
			p.emit(events.Event{Kind: events.Transfer, ECU: s.ID, Label: "image " + t.Name, Done: done, Total: total, Bus: s.Bus})
		})
	})
}

// verifyInstallReset asks the Secondary to verify the image it received
// ({#verify_image}), install it ({#install_image}) and reset; the status is
// the outcome when one of them fails.
func (p *Primary) verifyInstallReset(s SecondaryConfig, w conditionsWait) (status string, err error) {
	p.phase(s.ID, "verify image")
	if err := s.Link.VerifyImage(); err != nil {
		return Failed, err
	}
	if err := p.whenConditionsHold(w, "install", func() error {
		p.phase(s.ID, "install")
		return s.Link.Install()
	}); err != nil {
		return Failed, err
	}
	p.phase(s.ID, "reset")
	if err := retry(s.Link.Reset); err != nil {
		return Unreachable, err
	}
	return "", nil
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
