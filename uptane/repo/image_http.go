package repo

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

var metadataFile = regexp.MustCompile(`^([0-9]{1,19}\.)?[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.json$`)

// Handler serves the Image repository over HTTP (docs/director-api.md):
//
//	GET  /N.ROLE.json, /timestamp.json, /root.json   metadata
//	GET  /targets/[DIR/]HASH.NAME                    images
//	PUT  /upload/targets/NAME?role=R&hardwareIds=A,B&releaseCounter=N  (bearer token)
//	POST /upload/publish                                                (bearer token)
func (im *Image) Handler() http.Handler { return http.HandlerFunc(im.serveHTTP) }

func (im *Image) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if strings.HasPrefix(p, "upload/") {
		im.serveUpload(w, r, strings.TrimPrefix(p, "upload/"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "repo: image: method %s not allowed on %s", r.Method, r.URL.Path)
		return
	}
	if !strings.HasPrefix(p, "targets/") && !metadataFile.MatchString(p) {
		httpError(w, http.StatusNotFound, "repo: image: no file %q", p)
		return
	}
	b, ok := im.File(p)
	if !ok {
		httpError(w, http.StatusNotFound, "repo: image: no file %q", p)
		return
	}
	ctype := "application/octet-stream"
	if !strings.HasPrefix(p, "targets/") {
		ctype = "application/json"
	}
	serveBytes(w, r, ctype, b)
}

func (im *Image) serveUpload(w http.ResponseWriter, r *http.Request, p string) {
	if !im.uploadAuthorized(r.Header.Get("Authorization")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="uptane-image-upload"`)
		httpError(w, http.StatusUnauthorized, "repo: image: upload requires a valid bearer token")
		return
	}
	switch {
	case p == "publish":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpError(w, http.StatusMethodNotAllowed, "repo: image: use POST to publish")
			return
		}
		if err := im.Publish(); err != nil {
			httpError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "targets/"):
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", "PUT")
			httpError(w, http.StatusMethodNotAllowed, "repo: image: use PUT to upload an image")
			return
		}
		name := strings.TrimPrefix(p, "targets/")
		q := r.URL.Query()
		role := q.Get("role")
		if role == "" {
			role = meta.Targets
		}
		var hw []string
		for _, h := range strings.Split(q.Get("hardwareIds"), ",") {
			if h = strings.TrimSpace(h); h != "" {
				hw = append(hw, h)
			}
		}
		rc, err := strconv.ParseUint(q.Get("releaseCounter"), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "repo: image: upload %q: query releaseCounter: %v", name, err)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, im.opts.MaxUpload+1))
		if err != nil {
			httpError(w, http.StatusBadRequest, "repo: image: upload %q: %v", name, err)
			return
		}
		if int64(len(data)) > im.opts.MaxUpload {
			httpError(w, http.StatusRequestEntityTooLarge, "repo: image: upload %q: more than %d bytes", name, im.opts.MaxUpload)
			return
		}
		if err := im.AddImageTo(role, name, data, hw, rc); err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, ErrUnauthorized) {
				code = http.StatusForbidden
			}
			httpError(w, code, "%v", err)
			return
		}
		w.WriteHeader(http.StatusCreated)
	default:
		httpError(w, http.StatusNotFound, "repo: image: no upload endpoint %q", p)
	}
}

func (im *Image) uploadAuthorized(h string) bool {
	if im.opts.UploadToken == "" {
		return false
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(im.opts.UploadToken)) == 1
}
