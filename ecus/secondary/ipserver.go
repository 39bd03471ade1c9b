package secondary

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"io"
	"strings"
	"sync"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
	"github.com/uptane-hil/uptane-hil/uptane/meta"
)

// IPServer serves an ECU over aktualizr's IP Secondary protocol
// (ecus/aktualizrip, docs/aktualizr-ip.md), as aktualizr-secondary would:
// it is an ip.Handler for ip.Server.
//
// The protocol carries neither a nonce nor a time. The ECU takes its own
// clock as the latest time when a cycle starts (the first putRootReq or
// putMetaReq2 after an install or a manifest) and makes its own fresh nonce
// for each manifest from Nonces, so its version reports stay fresh for the
// Director, but the Primary cannot check that a report answers this cycle.
//
// Metadata arrives under the file names our Primary uses (the collection's
// "role" is the file name, e.g. "1.root.json", "timestamp.json",
// "3.snapshot.json"; a bare role name is taken as ROLE.json) in the TUF form
// our verification checks: aktualizr's own dialect is not accepted here.
// Verified with nothing new for this ECU is answered alreadyProcessed.
type IPServer struct {
	ECU    *ECU
	Nonces io.Reader

	mu      sync.Mutex
	inCycle bool
	image   bytes.Buffer
}

// KeyInfo is the ECU's key as getInfoResp carries it: an ED25519 key as 64
// upper-case hex characters (as aktualizr sends it), any other as the TUF
// key JSON with key type unknown.
func KeyInfo(k *metadata.Key) (ip.KeyType, []byte) {
	if k.Type == metadata.KeyTypeEd25519 {
		if b, err := hex.DecodeString(k.Value.PublicKey); err == nil {
			return ip.KeyED25519, []byte(strings.ToUpper(hex.EncodeToString(b)))
		}
	}
	j, _ := json.Marshal(k)
	return ip.KeyUnknown, j
}

// RootVersion returns the version of the trusted Root of repo (0: none).
func (e *ECU) RootVersion(repo string) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.director
	if repo == meta.Image {
		r = e.image
	}
	if r == nil || r.Root() == nil {
		return 0
	}
	return r.Root().Signed.Version
}

func ipRepo(r ip.Repo) (string, error) {
	switch r {
	case ip.RepoDirector:
		return meta.Director, nil
	case ip.RepoImage:
		return meta.Image, nil
	}
	return "", fmt.Errorf("unknown repository type %s", r)
}

func (s *IPServer) startCycle() error {
	if s.inCycle {
		return nil
	}
	n := make([]byte, 16)
	if _, err := io.ReadFull(s.Nonces, n); err != nil {
		return err
	}
	if err := s.ECU.SetNonce(n); err != nil {
		return err
	}
	if err := s.ECU.ownClockTime(); err != nil {
		return err
	}
	s.inCycle = true
	s.image.Reset()
	return nil
}

func rootName(b []byte) string {
	var v struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	if json.Unmarshal(b, &v) != nil || v.Signed.Version < 1 {
		return meta.UnversionedName(meta.Root)
	}
	return meta.VersionedName(v.Signed.Version, meta.Root)
}

func fileName(role string, b []byte) string {
	if strings.HasSuffix(role, ".json") {
		return role
	}
	if role == meta.Root {
		return rootName(b)
	}
	return meta.UnversionedName(role)
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Handle implements ip.Handler.
func (s *IPServer) Handle(req ip.Message) (ip.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ECU
	switch r := req.(type) {
	case *ip.GetInfoRequest:
		kt, key := KeyInfo(e.PublicKey())
		return &ip.GetInfoResponse{ECUSerial: e.ID(), HardwareID: e.HardwareID(), KeyType: kt, Key: key}, nil
	case *ip.VersionRequest:
		return &ip.VersionResponse{Version: ip.LatestVersion}, nil
	case *ip.RootVersionRequest:
		repo, err := ipRepo(r.Repo)
		if err != nil {
			return &ip.RootVersionResponse{Version: -1}, nil
		}
		return &ip.RootVersionResponse{Version: e.RootVersion(repo)}, nil
	case *ip.PutRootRequest:
		repo, err := ipRepo(r.Repo)
		if err == nil {
			if err = s.startCycle(); err == nil {
				err = e.PutMetadata(repo, rootName(r.JSON), r.JSON)
			}
		}
		if err != nil {
			return &ip.PutRootResponse{Result: ip.ResultValidationFailed, Description: describe(err)}, nil
		}
		return &ip.PutRootResponse{Result: ip.ResultOK}, nil
	case *ip.PutMetaRequest2:
		err := s.startCycle()
		for _, set := range []struct {
			repo  string
			files []ip.MetaJSON
		}{{meta.Director, r.Director}, {meta.Image, r.Image}} {
			for _, f := range set.files {
				if err == nil {
					err = e.PutMetadata(set.repo, fileName(f.Role, f.JSON), f.JSON)
				}
			}
		}
		if err != nil {
			return &ip.PutMetaResponse2{Result: ip.ResultValidationFailed, Description: describe(err)}, nil
		}
		t, err := e.VerifyMetadata()
		switch {
		case err != nil:
			return &ip.PutMetaResponse2{Result: ip.ResultValidationFailed, Description: describe(err)}, nil
		case t == nil:
			return &ip.PutMetaResponse2{Result: ip.ResultAlreadyProcessed, Description: "verified: no new image for " + e.ID()}, nil
		}
		return &ip.PutMetaResponse2{Result: ip.ResultOK}, nil
	case *ip.UploadDataRequest:
		if e.Target() == nil {
			return &ip.UploadDataResponse{Result: ip.ResultGeneralError, Description: "no verified target: send metadata first"}, nil
		}
		if limit := e.ImageLimit(); int64(s.image.Len()+len(r.Data)) > limit {
			err := e.PutImage("upload", make([]byte, limit+1)) // records download_image.size
			return &ip.UploadDataResponse{Result: ip.ResultDownloadFailed, Description: describe(err)}, nil
		}
		s.image.Write(r.Data)
		return &ip.UploadDataResponse{Result: ip.ResultOK}, nil
	case *ip.InstallRequest:
		s.inCycle = false
		t := e.Target()
		if t == nil {
			return &ip.InstallResponse2{Result: ip.ResultInternalError, Description: "no verified target"}, nil
		}
		err := e.PutImage(r.Hash, bytes.Clone(s.image.Bytes()))
		s.image.Reset()
		if err == nil {
			err = e.VerifyImage()
		}
		if err != nil {
			return &ip.InstallResponse2{Result: ip.ResultDownloadFailed, Description: describe(err)}, nil
		}
		if err := e.Install(); err != nil {
			return &ip.InstallResponse2{Result: ip.ResultInstallFailed, Description: describe(err)}, nil
		}
		return &ip.InstallResponse2{Result: ip.ResultOK}, nil
	case *ip.ManifestRequest:
		s.inCycle = false
		n := make([]byte, 16)
		if _, err := io.ReadFull(s.Nonces, n); err != nil {
			return nil, err
		}
		if err := e.SetNonce(n); err != nil {
			return nil, err
		}
		if err := e.ownClockTime(); err != nil {
			return nil, err
		}
		b, err := e.VersionReport()
		if err != nil {
			return nil, err
		}
		return &ip.ManifestResponse{JSON: b}, nil
	}
	return nil, errors.New("message not served by this Secondary: " + req.Kind().String())
}

// ownClockTime is the time of a Secondary served over aktualizr-ip: the
// protocol carries no time attestation (docs/aktualizr-ip.md), so, like
// aktualizr-secondary, the ECU takes its own clock, never earlier than the
// latest time it had.
func (e *ECU) ownClockTime() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Clock.Now()
	return e.st.Update("time", func(s *store.State) error {
		if now.After(s.LatestTime) {
			s.LatestTime = now
		}
		return nil
	})
}
