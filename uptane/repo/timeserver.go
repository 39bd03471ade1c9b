package repo

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/keys"
	"github.com/uptane-hil/uptane-hil/uptane/manifest"
)

// TimeServer attests the current time of the backend over the nonces the
// vehicle's ECUs made (manifest.TimeAttestation; docs/director-api.md,
// "Time server"): the time source of {#verify_time} that is not the
// Primary, so neither a node on the bus nor a compromised Primary can give
// an ECU a time of its choosing. Its key is given to every ECU at the
// factory.
type TimeServer struct {
	clk Clock
	key keys.Signer
}

// NewTimeServer makes a time server signing with key.
func NewTimeServer(clk Clock, key keys.Signer) *TimeServer { return &TimeServer{clk: clk, key: key} }

// PublicKey is the key ECUs verify attestations with.
func (ts *TimeServer) PublicKey() *metadata.Key { return ts.key.Public() }

// Attest signs the current time over nonces.
func (ts *TimeServer) Attest(nonces [][]byte) ([]byte, error) {
	if len(nonces) == 0 || len(nonces) > manifest.MaxTimeNonces {
		return nil, fmt.Errorf("repo: time: %d nonces, want 1..%d", len(nonces), manifest.MaxTimeNonces)
	}
	a := manifest.TimeAttestation{Time: ts.clk.Now()}
	for i, n := range nonces {
		if len(n) == 0 || len(n) > manifest.MaxNonce {
			return nil, fmt.Errorf("repo: time: nonce %d of %d bytes, want 1..%d", i, len(n), manifest.MaxNonce)
		}
		a.Nonces = append(a.Nonces, metadata.HexBytes(n))
	}
	st, err := manifest.SignTime(a, ts.key)
	if err != nil {
		return nil, err
	}
	return st.Encode()
}

// Handler serves the time server over HTTP:
//
//	GET /attest?nonce=HEX[&nonce=HEX...]   a signed attestation over the nonces
//	GET /key                               the public key (TUF key JSON)
func (ts *TimeServer) Handler() http.Handler { return http.HandlerFunc(ts.serveHTTP) }

func (ts *TimeServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "repo: time: method %s not allowed on %s", r.Method, r.URL.Path)
		return
	}
	switch strings.TrimPrefix(r.URL.Path, "/") {
	case "key":
		b, err := json.Marshal(ts.PublicKey())
		if err != nil {
			httpError(w, http.StatusInternalServerError, "repo: time: %v", err)
			return
		}
		serveBytes(w, r, "application/json", b)
	case "attest":
		var nonces [][]byte
		for _, h := range r.URL.Query()["nonce"] {
			n, err := hex.DecodeString(h)
			if err != nil {
				httpError(w, http.StatusBadRequest, "repo: time: nonce %q: %v", h, err)
				return
			}
			nonces = append(nonces, n)
		}
		b, err := ts.Attest(nonces)
		if err != nil {
			httpError(w, http.StatusBadRequest, "%v", err)
			return
		}
		serveBytes(w, r, "application/json", b)
	default:
		httpError(w, http.StatusNotFound, "repo: time: no %q", r.URL.Path)
	}
}
