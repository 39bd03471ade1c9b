package repo

import (
	"crypto/subtle"
	"errors"
	"fmt"
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
//	PUT  /upload/targets/NAME?hardwareIds=A,B&releaseCounter=N  (a supplier's bearer token)
//	POST /upload/publish                                         (a supplier's bearer token)
//
// A token is one supplier's credential (ImageOptions.Uploaders): it writes
// only as that supplier's delegated role, within its delegation.
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
	up, ok := im.uploader(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="uptane-image-upload"`)
		httpError(w, http.StatusUnauthorized, "repo: image: upload requires a supplier's valid bearer token")
		return
	}
	switch {
	case p == "publish":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpError(w, http.StatusMethodNotAllowed, "repo: image: use POST to publish")
			return
		}
		if err := im.PublishDelegated(); err != nil {
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
		// the credential names the role; a caller cannot pick another
		role := up.Role
		if asked := q.Get("role"); asked != "" && asked != role {
			httpError(w, http.StatusForbidden, "repo: image: upload %q: %v: the credential of role %q may not write as role %q", name, ErrUnauthorized, up.Role, asked)
			return
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

// uploader returns the credential an Authorization header carries.
func (im *Image) uploader(h string) (Uploader, bool) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return Uploader{}, false
	}
	var found Uploader
	hit := 0
	for _, u := range im.opts.Uploaders {
		// every credential is compared, so the time taken does not say which matched
		if subtle.ConstantTimeCompare([]byte(tok), []byte(u.Token)) == 1 {
			found, hit = u, hit+1
		}
	}
	return found, hit == 1
}

// Uploader is one supplier's credential for the upload endpoints: a request
// carrying "Authorization: Bearer <Token>" writes as Role and nothing else,
// and only what the chain of delegations gives Role (its paths and hardware
// identifiers).
type Uploader struct {
	Role  string // a delegated targets role; never top-level "targets"
	Token string // a secret, at least MinUploadToken bytes; never logged
}

// MinUploadToken is the shortest upload credential accepted.
const MinUploadToken = 16

func checkUploaders(us []Uploader) error {
	seen := map[string]bool{}
	for i, u := range us {
		switch {
		case u.Role == meta.Targets || u.Role == meta.Root || u.Role == meta.Snapshot || u.Role == meta.Timestamp:
			return fmt.Errorf("repo: image: uploader %d: role %q: top-level roles are signed only by their key holders (offline), never over HTTP", i, u.Role)
		case u.Role == "":
			return fmt.Errorf("repo: image: uploader %d: no role", i)
		case len(u.Token) < MinUploadToken:
			return fmt.Errorf("repo: image: uploader %d (role %q): token shorter than %d bytes", i, u.Role, MinUploadToken)
		case seen[u.Token]:
			return fmt.Errorf("repo: image: uploader %d (role %q): token shared with another uploader", i, u.Role)
		}
		seen[u.Token] = true
	}
	return nil
}
