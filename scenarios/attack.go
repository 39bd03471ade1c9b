package scenarios

// Attack steps: each goes to its seam (the bus attacker, bus.go; the
// manifest, manifest.go; the eavesdropper, eavesdrop.go; key compromise,
// keys.go) or to the man in the middle on the Primary's repository link
// (attacks/mitm), which replays, substitutes, truncates, slows or drops.

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/uptane-hil/uptane-hil/attacks/mitm"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

func (r *runner) attack(f string, a *AttackStep) (func(), error) {
	switch {
	case a.Bus != nil:
		return r.busAttack(f+".bus", a)
	case a.Manifest != nil:
		if err := r.sendManifest(a.Manifest); err != nil {
			return nil, r.s.Errorf(f+".manifest", "%v", err)
		}
		return func() {}, nil
	case a.Eavesdrop != nil:
		return r.eavesdrop(f, a.Eavesdrop)
	case a.Compromise != nil && a.Compromise.Repo == "image":
		return func() {}, r.compromiseImage(f, a.Compromise)
	case a.Compromise != nil && a.Compromise.Repo == "ecu":
		k := r.v.ECUKeys[a.Compromise.Role]
		if k == nil {
			return nil, r.s.Errorf(f+".compromise.role", "no ECU %q in the rig", a.Compromise.Role)
		}
		r.heldECU[a.Compromise.Role] = k
		return func() {}, nil
	case a.Compromise != nil:
		c := a.Compromise
		roles := []string{c.Role}
		if c.Role == "online" {
			roles = []string{meta.Targets, meta.Snapshot, meta.Timestamp}
		}
		for _, role := range roles {
			var sg []keys.Signer
			if c.Repo == "director" {
				sg = r.v.Director.Signers(role)
			} else {
				sg = r.v.Image.Signers(role)
			}
			if len(sg) == 0 {
				return nil, r.s.Errorf(f+".compromise.role", "the %s repository has no %s keys", c.Repo, role)
			}
			if c.Key >= len(sg) {
				return nil, r.s.Errorf(f+".compromise.key", "the %s role has %d keys", role, len(sg))
			}
			r.held[role] = append(r.held[role], sg[c.Key])
		}
		return func() {}, nil
	case a.MITM != nil:
		m := a.MITM
		prefix := "^/image/"
		switch m.Repo {
		case "director":
			prefix = "^/director/" + regexp.QuoteMeta(r.v.Rig.Vehicle.VIN) + "/"
		case "time":
			prefix = "^/time/"
		}
		re, err := regexp.Compile(prefix + "(?:" + m.File + ")")
		if err != nil {
			return nil, r.s.Errorf(f+".mitm.file", "%v", err)
		}
		var act mitm.Action
		switch m.Action {
		case "replay":
			act = mitm.Replay{Index: m.Index}
		case "truncate":
			act = mitm.Truncate{N: int(m.Bytes)}
		case "slow":
			act = mitm.Slow{Chunk: m.Chunk, Interval: m.Interval}
		case "drop":
			act = mitm.Drop{}
		case "endless":
			act = mitm.Endless{Prefix: []byte("{"), Length: m.Bytes}
		case "status":
			act = mitm.Status{Code: m.Status}
		case "substitute":
			if m.With == OtherVehicle {
				return r.otherVehicle(a.Name, regexp.MustCompile("(?:"+m.File+")"))
			}
			if file, ok := strings.CutPrefix(m.With, "recorded:"); ok {
				body := r.recorded(m.Repo, file)
				if body == nil {
					return nil, r.s.Errorf(f+".mitm.with", "the attacker has not seen %s of the %s repository yet", file, m.Repo)
				}
				act = mitm.Substitute{Body: body}
				break
			}
			edit, err := r.substitute(f+".mitm.with", m.With)
			if err != nil {
				return nil, err
			}
			act = mitm.Substitute{Edit: edit}
		}
		rule := &mitm.Rule{Name: a.Name, Path: re, Action: act}
		r.rules = append(r.rules, rule)
		return r.proxy.Add(rule), nil
	}
	return nil, r.s.Errorf(f, "this attack is not supported by the runner yet")
}

// substitute returns the attacker's edit of a genuine response.
func (r *runner) substitute(f, with string) (func([]byte) []byte, error) {
	switch with {
	case "malicious-image":
		return func(b []byte) []byte { return r.v.ImageBytes("malicious", 0, len(b)) }, nil
	case "unsigned":
		return func(b []byte) []byte {
			var doc map[string]json.RawMessage
			if json.Unmarshal(b, &doc) != nil {
				return b
			}
			doc["signatures"] = json.RawMessage("[]")
			out, _ := json.Marshal(doc)
			return out
		}, nil
	case "tampered":
		return func(b []byte) []byte {
			out := append([]byte(nil), b...)
			if i := strings.Index(string(out), `"expires":"`); i >= 0 {
				out[i+len(`"expires":"`)] = '9'
			}
			return out
		}, nil
	}
	return nil, r.s.Errorf(f, "%q is not one of malicious-image, unsigned, tampered, recorded:FILE, other-vehicle", with)
}

// recorded is the first response the attacker recorded for a file.
func (r *runner) recorded(repo, file string) []byte {
	p := "/image/" + file
	switch repo {
	case "director":
		p = "/director/" + r.v.Rig.Vehicle.VIN + "/" + file
	case "time":
		p = "/time/" + file
	}
	if rec := r.proxy.Recorded(p); len(rec) > 0 {
		return rec[0]
	}
	return nil
}
