// Package sample builds a realistic, deterministic report — the eight
// backend-link attack scenarios on the virtual rig, conformant and control
// runs for each judged ECU — for the specs and for looking at the HTML.
package sample

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/reports"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/std"
)

type scenario struct {
	name, attack, transport, description string
	standard                             []string
	ecus                                 []string
	defence                              check.ID // the control profile lacks it; the conformant run reports it
	repo, file                           string   // the request the attacker interferes with
	fault                                string   // the conformant ECU's error
}

var scenarios = []scenario{
	{"freeze-director-timestamp", "freeze", "backend-link",
		"A man in the middle on the vehicle's cellular link keeps answering the Director's timestamp.json with the first, validly signed copy it recorded, so the vehicle never learns of new updates.",
		[]string{"check_timestamp", "full_verification"}, []string{"ECM-0001", "BRK-0001"}, check.TimestampExpiry,
		"director", "timestamp.json", "check_timestamp.expiry (freeze) director/timestamp: expired 2025-01-03T00:00:00Z, attested time 2025-01-04T00:00:02Z"},
	{"rollback-director-metadata", "rollback", "backend-link",
		"After the vehicle installed release 3, the attacker replays the Director's older, validly signed timestamp, snapshot and targets that directed release 2.",
		[]string{"check_timestamp", "check_snapshot", "check_targets", "full_verification", "verify_image"}, []string{"ECM-0001", "BRK-0001"}, check.TimestampVersion,
		"director", "timestamp.json", "check_timestamp.version (rollback) director/timestamp: version 2 is lower than the trusted version 4"},
	{"mix-and-match-director-targets", "mix-and-match", "backend-link",
		"The attacker answers the request for the Director's new targets metadata with the older targets file, so the vehicle mixes a new snapshot with old targets.",
		[]string{"check_targets", "check_snapshot"}, []string{"ECM-0001", "BRK-0001"}, check.TargetsSnapshotMatch,
		"director", "targets.json", "check_targets.snapshot_match (mix-and-match) director/targets: version 2, but the snapshot lists version 3"},
	{"arbitrary-software-image", "arbitrary-software", "backend-link",
		"The attacker replaces the bytes of the new firmware image in transit with its own code of the same length.",
		[]string{"download_images_primary", "verify_image"}, []string{"ECM-0001", "BRK-0001"}, check.VerifyImageHashes,
		"image", "ecm-v3-r2.bin", "verify_image.hashes (arbitrary-software) image/targets on %s: sha256 3f1c…9a0e does not match the metadata's 8b2d…77c1"},
	{"endless-data-timestamp", "endless-data", "backend-link",
		"The attacker answers the Director's timestamp.json with a response that never ends, to exhaust the Primary's memory.",
		[]string{"check_timestamp"}, []string{"ECM-0001"}, check.TimestampSize,
		"director", "timestamp.json", "check_timestamp.size (endless-data) director/timestamp: more than 16384 bytes"},
	{"slow-retrieval-image", "slow-retrieval", "backend-link",
		"The attacker trickles the new firmware image at a byte every few seconds, just enough to keep the connection alive, holding the update up for days.",
		[]string{"download_images_primary"}, []string{"ECM-0001"}, check.InVehicleDownloadSpeed,
		"image", "ecm-v3-r2.bin", "in_vehicle.download_speed (slow-retrieval) image: 12 B/s over 30s is below the threshold of 1024 B/s"},
	{"drop-request-director", "drop-request", "backend-link",
		"The attacker silently drops the Primary's requests for the Director's timestamp.json, so the vehicle never hears of new updates.",
		[]string{"check_timestamp"}, []string{"ECM-0001", "BRK-0001"}, check.InVehicleRequestTimeout,
		"director", "timestamp.json", "in_vehicle.request_timeout (drop-request) director: no answer to timestamp.json within 30s"},
	{"partial-bundle", "partial-bundle", "backend-link",
		"The attacker lets a valid update bundle through but blocks the engine controller's image, so the vehicle ends with a mix of old and new software.",
		[]string{"send_images_primary", "download_images_primary"}, []string{"BRK-0001"}, check.SendImagesPrimaryCompleteBundle,
		"image", "ecm-v3-r2.bin", "send_images_primary.complete_bundle (partial-bundle) on ECM-0001: image ecm-v3-r2.bin never reached its ECU"},
}

// Started is the sample's start time.
var Started = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// Report returns the sample report: 26 results, of which the first `failing`
// conformant ones are turned into failures (observed compromised).
func Report(failing int) *reports.Report {
	r := reports.New(reports.Tool{Name: "uptane-hil", Version: "0.4.0"},
		reports.Rig{Name: "virtual", File: "rigs/virtual.yaml", Transport: "virtual", Buses: []reports.Bus{
			{Name: "powertrain", Bitrate: 500000},
			{Name: "body", Bitrate: 500000, DataBitrate: 2000000, FD: true},
		}}, 1, Started)
	wall := 0.0
	for si, s := range scenarios {
		for _, control := range []bool{false, true} {
			seq, dur := sequence(s, control)
			load := busLoad(seq, dur)
			for ei, ecu := range s.ecus {
				x := reports.Result{
					Scenario: s.name, Description: s.description, Attack: s.attack, Standard: s.standard,
					Transport: s.transport, ECU: ecu, Profile: "conformant", Control: control,
					Expected: reports.Defended, Observed: reports.Defended, Pass: true,
					Duration: dur, Wall: 40 + float64((si*7+ei*3)%23),
					Capture:    fmt.Sprintf("runs/%s/%s/powertrain.pcap", s.name, profileDir(control, s.defence.String())),
					CandumpLog: fmt.Sprintf("runs/%s/%s/powertrain.log", s.name, profileDir(control, s.defence.String())),
					Sequence:   seq, BusLoad: load, Statements: statements(s),
				}
				if control {
					x.Profile = "without:" + s.defence.String()
					x.Expected, x.Observed = reports.Compromised, reports.Compromised
				} else {
					x.Detected = s.defence.String()
					x.Detail = strings.ReplaceAll(s.fault, "%s", ecu)
				}
				if !control && failing > 0 {
					failing--
					x.Observed, x.Detected, x.Pass = reports.Compromised, "", false
					x.Detail = "the ECU installed the attacker's image; no check reported the attack"
				}
				x.VersionReport = versionReport(ecu, s, control, si)
				if ei == 0 {
					x.DirectorRecord = directorRecord(s, control)
				}
				wall += x.Wall
				r.Add(x)
			}
		}
	}
	r.Coverage = reports.NewCoverage(std.Trace(links()), r.Results)
	r.Finish(Started.Add(time.Duration(wall * float64(time.Millisecond))))
	return r
}

// statements are the Standard's statements the scenario's defence implements.
func statements(s scenario) []string {
	var out []string
	for _, id := range check.Statements[s.defence] {
		out = append(out, string(id))
	}
	return out
}

// links are the trace's links for the sample's scenarios.
func links() std.Links {
	l := std.Links{Checks: map[std.ID][]string{}, Scenarios: map[std.ID][]string{}}
	for c, ids := range check.Statements {
		for _, id := range ids {
			l.Checks[id] = append(l.Checks[id], c.String())
		}
	}
	for _, s := range scenarios {
		for _, id := range check.Statements[s.defence] {
			l.Scenarios[id] = append(l.Scenarios[id], s.name)
		}
	}
	return l
}

func profileDir(control bool, defence string) string {
	if control {
		return "without-" + defence
	}
	return "conformant"
}

func hexOf(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// sequence is the message sequence of one run of the scenario and its
// simulated duration in ms.
func sequence(s scenario, control bool) ([]reports.Message, float64) {
	const pri = "TCU-0001"
	var seq []reports.Message
	t := 0.0
	add := func(dt float64, m reports.Message) {
		t += dt
		m.T = t
		seq = append(seq, m)
	}
	add(0, reports.Message{Kind: reports.KindNote, Label: "campaign: release 2 for " + fmt.Sprint(s.ecus)})
	add(2, reports.Message{Kind: reports.KindAttack, From: reports.Attacker, To: pri, Label: "attack on: " + s.name})
	add(3, reports.Message{Kind: reports.KindNote, From: pri, Label: "download and verify metadata"})
	faulted := false
	for _, repo := range []string{reports.Director, reports.Image} {
		for _, f := range []string{"2.root.json (404)", "timestamp.json", "snapshot.json", "targets.json"} {
			m := reports.Message{Kind: reports.KindHTTP, From: pri, To: repo, Label: "GET " + f}
			if repo == s.repo && f == s.file && !control {
				m.Fault = strings.ReplaceAll(s.fault, "%s", pri)
				add(4.5, m)
				add(0.5, reports.Message{Kind: reports.KindNote, From: pri, Label: "metadata verification failed", Fault: s.defence.String()})
				faulted = true
				break
			}
			add(4.5, m)
		}
		if faulted {
			break
		}
	}
	if !faulted {
		for _, ecu := range s.ecus {
			add(1, reports.Message{Kind: reports.KindHTTP, From: pri, To: reports.Image, Label: "GET " + hwOf(ecu) + "-r2.bin"})
		}
	}
	add(2, reports.Message{Kind: reports.KindNote, From: pri, Label: "send time"})
	for _, ecu := range s.ecus {
		add(1, reports.Message{Kind: reports.KindUDS, From: pri, To: ecu, Label: "write nonce"})
		add(6, reports.Message{Kind: reports.KindUDS, From: pri, To: ecu, Label: "file director/root.json"})
		add(9, reports.Message{Kind: reports.KindUDS, From: pri, To: ecu, Label: "file director/targets.json"})
		if !faulted {
			add(420, reports.Message{Kind: reports.KindUDS, From: pri, To: ecu, Label: fmt.Sprintf("image %s-r2.bin (262144 bytes)", hwOf(ecu))})
			add(3, reports.Message{Kind: reports.KindNote, From: ecu, Label: "install to slot B; reboot"})
		}
		m := reports.Message{Kind: reports.KindUDS, From: ecu, To: pri, Label: "version report"}
		add(2, m)
	}
	add(6, reports.Message{Kind: reports.KindHTTP, From: pri, To: reports.Director, Label: fmt.Sprintf("POST manifest (%d reports)", len(s.ecus)+1)})
	for _, ecu := range s.ecus {
		status := "up to date (release 1)"
		if !faulted {
			status = "installed release 2"
		}
		m := reports.Message{Kind: reports.KindNote, From: ecu, Label: ecu + ": " + status}
		if faulted {
			m.Fault = s.defence.String()
		}
		add(1, m)
	}
	return seq, t + 5
}

func hwOf(ecu string) string {
	switch ecu {
	case "BRK-0001":
		return "brk-v2"
	case "BCM-0001":
		return "bcm-v1"
	}
	return "ecm-v3"
}

// busLoad is a load timeline that follows the UDS traffic of the sequence.
func busLoad(seq []reports.Message, dur float64) []reports.BusLoad {
	const win = 5.0
	pt := reports.BusLoad{Bus: "powertrain"}
	body := reports.BusLoad{Bus: "body"}
	for t := 0.0; t <= dur; t += win {
		p, b := 0.8, 0.4 // periodic traffic
		for i, m := range seq {
			if m.Kind != reports.KindUDS {
				continue
			}
			start := 0.0
			if i > 0 {
				start = seq[i-1].T
			}
			if t >= start && t < m.T {
				if m.T-start > 100 {
					p += 38 + 6*math.Sin(t/17)
				} else {
					p += 22
				}
			}
		}
		b += 1.5 * (1 + math.Sin(t/40))
		// split by kind of traffic: the periodic part is the rest-bus (and
		// a trace of other frames on the powertrain), the rest the update;
		// the body bus's peaks an attacker's
		r1 := func(x float64) float64 { return math.Round(x*10) / 10 }
		ps := reports.LoadSample{T: t, LoadPct: r1(math.Min(p, 100)), RestbusPct: 0.7, OtherPct: 0.1}
		ps.UpdatePct = r1(ps.LoadPct - 0.8)
		bs := reports.LoadSample{T: t, LoadPct: r1(b), RestbusPct: 0.4}
		bs.AttackerPct = r1(bs.LoadPct - 0.4)
		pt.Samples = append(pt.Samples, ps)
		body.Samples = append(body.Samples, bs)
	}
	return []reports.BusLoad{pt, body}
}

func versionReport(ecu string, s scenario, control bool, n int) json.RawMessage {
	img := hwOf(ecu) + "-r1.bin"
	if control {
		img = hwOf(ecu) + "-r2.bin"
	}
	attacks := s.defence.String()
	if control {
		attacks = ""
	}
	doc := map[string]any{
		"signatures": []any{map[string]any{"keyid": hexOf("key " + ecu), "method": "ed25519", "sig": hexOf("sig "+ecu+s.name) + hexOf("sig2 "+ecu)}},
		"signed": map[string]any{
			"ecu_identifier":     ecu,
			"previous_timestamp": "2026-03-14T09:30:00Z",
			"timeserver_time":    "2026-03-14T09:30:01Z",
			"report_counter":     n*2 + 1,
			"nonce":              hexOf(fmt.Sprint("nonce", n, ecu))[:32],
			"attacks_detected":   attacks,
			"installed_image": map[string]any{
				"filename": img,
				"fileinfo": map[string]any{"length": 262144, "hashes": map[string]any{"sha256": hexOf(img)}},
			},
		},
	}
	b, _ := json.Marshal(doc)
	return b
}

func directorRecord(s scenario, control bool) json.RawMessage {
	doc := map[string]any{"vin": "UPTHIL00000000001", "seq": 3, "accepted": true, "reports": len(s.ecus) + 1}
	if !control {
		doc["attacks_detected"] = map[string]string{"TCU-0001": s.defence.String()}
	}
	b, _ := json.Marshal(doc)
	return b
}
