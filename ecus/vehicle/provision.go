package vehicle

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/internal/atomicfile"
	"github.com/uptane-hil/uptane-hil/rigs"
	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/sim/seed"
	"github.com/uptane-hil/uptane-hil/uptane/keys"
)

// NewHTTPClient is the client of an ECU in its own process to the backend:
// bounded dialing, response headers and whole requests.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		},
	}
}

// BackendURLs returns the base URLs of the vehicle's Director files and of
// the Image repository: under base when given (as served by uptane-hil
// repo and vehicle: base/director/VIN/, base/image/), else the rig's:
// http://LISTEN/... of an embedded backend with backend.listen, or
// director_url/VIN/ and image_url of a remote one.
func BackendURLs(r *rigs.Rig, base string) (director, image string, err error) {
	vin := r.Vehicle.VIN
	if base == "" {
		switch {
		case r.Backend.Mode == rigs.Remote:
			d, err := url.JoinPath(r.Backend.DirectorURL, vin)
			if err != nil {
				return "", "", r.Errorf("backend.director_url", "%v", err)
			}
			return d + "/", strings.TrimSuffix(r.Backend.ImageURL, "/") + "/", nil
		case r.Backend.Listen != "":
			base = "http://" + r.Backend.Listen
		default:
			return "", "", r.Errorf("backend.listen", "the embedded backend is not served over HTTP: set backend.listen (e.g. 127.0.0.1:8470) or give the backend's URL (--backend)")
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("vehicle: backend URL %q: want http://HOST:PORT", base)
	}
	base = strings.TrimSuffix(base, "/")
	return base + "/director/" + vin + "/", base + "/image/", nil
}

// record is what the factory wrote about an ECU (DIR/ecu.json): a later
// start checks the rig still describes the same ECU.
type record struct {
	ECU          string    `json:"ecu"`
	HardwareID   string    `json:"hardwareId"`
	Role         string    `json:"role"`
	Verification string    `json:"verification"`
	VIN          string    `json:"vin"`
	KeyID        string    `json:"keyid"`
	Encrypted    bool      `json:"encrypted"`
	Seed         uint64    `json:"seed"`
	Rig          string    `json:"rig"`
	Provisioned  time.Time `json:"provisioned"`
}

const (
	recordFile = "ecu.json"
	keyFile    = "keys/ecu.key"
	encKeyFile = "keys/ecu-enc.key"
)

// provisionOnce runs the factory into a fresh temporary directory next to
// dir and renames it to dir, so a state directory exists only once it is
// complete (a kill during the factory leaves nothing to boot from, and the
// next start provisions again). It does nothing, and reports false, when
// dir exists.
func provisionOnce(dir string, factory func(tmp string) error) (bool, error) {
	if _, err := os.Stat(dir); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(parent, "."+base+".factory-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".factory-")
	if err != nil {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	if err := factory(tmp); err != nil {
		os.RemoveAll(tmp)
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return false, fmt.Errorf("vehicle: %w", err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return false, fmt.Errorf("vehicle: %w", err)
	}
	return true, nil
}

// fetchRoot fetches the current Root of a repository from the backend,
// retrying while the backend does not answer, until the deadline.
func fetchRoot(c *http.Client, clk clock.Clock, base, what string, deadline time.Time) ([]byte, error) {
	u := base + "root.json"
	var last error
	for {
		resp, err := c.Get(u)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
			resp.Body.Close()
			switch {
			case rerr != nil:
				last = rerr
			case resp.StatusCode == http.StatusOK && len(b) <= 1<<20:
				return b, nil
			case resp.StatusCode == http.StatusOK:
				return nil, fmt.Errorf("vehicle: the %s's Root at %s is more than 1 MiB", what, u)
			case resp.StatusCode/100 == 4:
				return nil, fmt.Errorf("vehicle: the %s's Root at %s: HTTP %d: %s (is this the backend of this rig and VIN?)", what, u, resp.StatusCode, strings.TrimSpace(string(b)))
			default:
				last = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		} else {
			last = err
		}
		if !clk.Now().Before(deadline) {
			return nil, fmt.Errorf("vehicle: the %s's Root at %s: no answer until the deadline: %v (is `uptane-hil repo` or `uptane-hil vehicle` serving it?)", what, u, last)
		}
		clk.Sleep(250 * time.Millisecond)
	}
}

// factoryKeys derives the ECU's keys from the seed (as Build does, so the
// Director's inventory matches) and stores them in the state directory
// (mode 0600).
func factoryKeys(dir string, sd seed.Seed, e *rigs.ECU) (*keys.Private, *ecdh.PrivateKey, error) {
	k, ek, err := ECUKeys(sd, e)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, nil, fmt.Errorf("vehicle: %w", err)
	}
	if err := keys.Save(filepath.Join(dir, keyFile), k); err != nil {
		return nil, nil, err
	}
	if ek != nil {
		if err := atomicfile.Write(filepath.Join(dir, encKeyFile), ek.Bytes(), 0o600); err != nil {
			return nil, nil, fmt.Errorf("vehicle: %w", err)
		}
	}
	return k, ek, nil
}

func writeRecord(dir string, o *ProcessOptions, e *rigs.ECU, k *keys.Private) error {
	rec := record{ECU: e.ID, HardwareID: e.HardwareID, Role: e.Role, Verification: e.Profile, VIN: o.Rig.Vehicle.VIN,
		KeyID: k.KeyID(), Encrypted: e.Encrypted, Seed: uint64(o.Seed), Rig: o.Rig.File, Provisioned: o.Clock.Now().UTC()}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, recordFile), b, 0o600)
}

// loadState reads the factory record and the keys of a provisioned ECU and
// checks that the rig still describes the same ECU.
func loadState(o *ProcessOptions, e *rigs.ECU) (*keys.Private, *ecdh.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(o.Dir, recordFile))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: state directory %s has no %s (%v): it was not made by uptane-hil ecu; remove it to provision %s again", e.ID, o.Dir, recordFile, err, e.ID)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: %s: %v", e.ID, filepath.Join(o.Dir, recordFile), err)
	}
	want := record{ECU: e.ID, HardwareID: e.HardwareID, Role: e.Role, Verification: e.Profile, VIN: o.Rig.Vehicle.VIN, Encrypted: e.Encrypted}
	got := record{ECU: rec.ECU, HardwareID: rec.HardwareID, Role: rec.Role, Verification: rec.Verification, VIN: rec.VIN, Encrypted: rec.Encrypted}
	if got != want {
		return nil, nil, fmt.Errorf("vehicle: %s: state directory %s holds ECU %s (hardware %s, %s, %s verification, VIN %s, encrypted %v); the rig %s says hardware %s, %s, %s verification, VIN %s, encrypted %v: remove the directory to provision it again",
			e.ID, o.Dir, rec.ECU, rec.HardwareID, rec.Role, rec.Verification, rec.VIN, rec.Encrypted,
			o.Rig.File, e.HardwareID, e.Role, e.Profile, o.Rig.Vehicle.VIN, e.Encrypted)
	}
	k, err := keys.Load(filepath.Join(o.Dir, keyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
	}
	var ek *ecdh.PrivateKey
	if e.Encrypted {
		p := filepath.Join(o.Dir, encKeyFile)
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, nil, fmt.Errorf("vehicle: %s: %s: mode %#o lets others read a secret key; chmod 600 it", e.ID, p, st.Mode().Perm())
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("vehicle: %s: %w", e.ID, err)
		}
		if ek, err = ecdh.X25519().NewPrivateKey(raw); err != nil {
			return nil, nil, fmt.Errorf("vehicle: %s: %s: %v", e.ID, p, err)
		}
	}
	// An ECU keeps the keys of its factory whatever seed it is started
	// with now (rec.Seed says which one made them).
	return k, ek, nil
}
