package repo

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Handler serves the Director over HTTP (docs/director-api.md):
//
//	GET  /VIN/N.root.json, /VIN/root.json, /VIN/N.targets.json,
//	     /VIN/N.snapshot.json, /VIN/timestamp.json   metadata (signed on demand)
//	GET  /VIN/targets/HASH.NAME                      images encrypted for one ECU
//	POST /VIN/manifest                               vehicle version manifest
//	GET  /VIN/installed, /VIN/attacks, /VIN/records  what the Director recorded
func (d *Director) Handler() http.Handler { return http.HandlerFunc(d.serveHTTP) }

func (d *Director) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	vin, rest, ok := strings.Cut(p, "/")
	if !ok || !vinPattern.MatchString(vin) {
		httpError(w, http.StatusNotFound, "repo: director: no file %q (paths are /VIN/FILE)", r.URL.Path)
		return
	}
	if rest == "manifest" {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpError(w, http.StatusMethodNotAllowed, "repo: director: use POST to upload a vehicle manifest")
			return
		}
		d.serveManifest(w, r, vin)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "repo: director: method %s not allowed on %s", r.Method, r.URL.Path)
		return
	}
	switch rest {
	case "installed":
		x, err := d.Installed(vin)
		d.serveJSON(w, r, x, err)
		return
	case "attacks":
		x, err := d.Attacks(vin)
		d.serveJSON(w, r, x, err)
		return
	case "records":
		x, err := d.Records(vin)
		d.serveJSON(w, r, x, err)
		return
	}
	if !strings.HasPrefix(rest, "targets/") && !metadataFile.MatchString(rest) {
		httpError(w, http.StatusNotFound, "repo: director: no file %q", rest)
		return
	}
	b, err := d.File(vin, rest)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNoFile) || errors.Is(err, ErrUnknownVehicle) {
			code = http.StatusNotFound
		}
		httpError(w, code, "%v", err)
		return
	}
	ctype := "application/json"
	if strings.HasPrefix(rest, "targets/") {
		ctype = "application/octet-stream"
	}
	serveBytes(w, r, ctype, b)
}

func (d *Director) serveJSON(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrUnknownVehicle) {
			code = http.StatusNotFound
		}
		httpError(w, code, "%v", err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "repo: director: %v", err)
		return
	}
	serveBytes(w, r, "application/json", b)
}

// manifestReply is the JSON body answering POST /VIN/manifest.
type manifestReply struct {
	Accepted bool         `json:"accepted"`
	Seq      uint64       `json:"seq,omitempty"`
	Check    check.ID     `json:"check,omitempty"`
	Attack   check.Attack `json:"attack,omitempty"`
	ECU      string       `json:"ecu,omitempty"`
	Error    string       `json:"error,omitempty"`
}

func (d *Director) serveManifest(w http.ResponseWriter, r *http.Request, vin string) {
	data, err := io.ReadAll(io.LimitReader(r.Body, int64(d.opts.MaxManifest)+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "repo: director: read manifest: %v", err)
		return
	}
	if len(data) > d.opts.MaxManifest {
		httpError(w, http.StatusRequestEntityTooLarge, "repo: director: manifest is more than %d bytes", d.opts.MaxManifest)
		return
	}
	rec, err := d.ReceiveManifest(vin, data)
	reply := manifestReply{Accepted: err == nil}
	if rec != nil {
		reply.Seq = rec.Seq
	}
	code := http.StatusOK
	if err != nil {
		reply.Error = err.Error()
		switch {
		case errors.Is(err, ErrUnknownVehicle):
			code = http.StatusNotFound
		case rec == nil:
			code = http.StatusInternalServerError
		case errors.Is(err, ErrBadManifest):
			code = http.StatusBadRequest
		default:
			code = http.StatusUnprocessableEntity
		}
		if ce, ok := check.As(err); ok {
			code = http.StatusForbidden
			reply.Check, reply.Attack, reply.ECU = ce.Check, ce.Attack, ce.ECU
		}
	}
	b, _ := json.Marshal(reply)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}
