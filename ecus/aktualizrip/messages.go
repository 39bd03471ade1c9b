package aktualizrip

import (
	"fmt"
	"strconv"
)

// Kind is the alternative of the AKIpUptaneMes CHOICE: its EXPLICIT context
// tag number.
type Kind byte

// The alternatives of AKIpUptaneMes, in the order of the ASN.1 module.
const (
	KindGetInfoReq            Kind = 0
	KindGetInfoResp           Kind = 1
	KindManifestReq           Kind = 2
	KindManifestResp          Kind = 3
	KindPutMetaReq            Kind = 4 // v1, deprecated
	KindPutMetaResp           Kind = 5 // v1, deprecated
	KindSendFirmwareReq       Kind = 6 // v1, deprecated
	KindSendFirmwareResp      Kind = 7 // v1, deprecated
	KindInstallReq            Kind = 8
	KindInstallResp           Kind = 9 // v1, deprecated
	KindUploadDataReq         Kind = 10
	KindUploadDataResp        Kind = 11
	KindDownloadOstreeRevReq  Kind = 12
	KindDownloadOstreeRevResp Kind = 13
	KindPutMetaReq2           Kind = 14
	KindPutMetaResp2          Kind = 15
	KindInstallResp2          Kind = 16
	KindVersionReq            Kind = 17
	KindVersionResp           Kind = 18
	KindRootVerReq            Kind = 19
	KindRootVerResp           Kind = 20
	KindPutRootReq            Kind = 21
	KindPutRootResp           Kind = 22
)

var kindNames = [...]string{"getInfoReq", "getInfoResp", "manifestReq", "manifestResp", "putMetaReq", "putMetaResp",
	"sendFirmwareReq", "sendFirmwareResp", "installReq", "installResp", "uploadDataReq", "uploadDataResp",
	"downloadOstreeRevReq", "downloadOstreeRevResp", "putMetaReq2", "putMetaResp2", "installResp2", "versionReq",
	"versionResp", "rootVerReq", "rootVerResp", "putRootReq", "putRootResp"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "alternative[" + strconv.Itoa(int(k)) + "]"
}

// ResultCode is AKInstallationResultCode (libaktualizr's
// data::ResultCode::Numeric).
type ResultCode int64

// Result codes of the message set.
const (
	ResultOK                 ResultCode = 0
	ResultAlreadyProcessed   ResultCode = 1
	ResultValidationFailed   ResultCode = 3
	ResultInstallFailed      ResultCode = 4
	ResultDownloadFailed     ResultCode = 5
	ResultInternalError      ResultCode = 18
	ResultGeneralError       ResultCode = 19
	ResultNeedCompletion     ResultCode = 21
	ResultCustomError        ResultCode = 22
	ResultOperationCancelled ResultCode = 23
	ResultUnknown            ResultCode = -1
)

func (c ResultCode) String() string {
	switch c {
	case ResultOK:
		return "ok"
	case ResultAlreadyProcessed:
		return "alreadyProcessed"
	case ResultValidationFailed:
		return "validationFailed"
	case ResultInstallFailed:
		return "installFailed"
	case ResultDownloadFailed:
		return "downloadFailed"
	case ResultInternalError:
		return "internalError"
	case ResultGeneralError:
		return "generalError"
	case ResultNeedCompletion:
		return "needCompletion"
	case ResultCustomError:
		return "customError"
	case ResultOperationCancelled:
		return "operationCancelled"
	case ResultUnknown:
		return "unknown"
	}
	return "result(" + strconv.FormatInt(int64(c), 10) + ")"
}

// KeyType is the key type of getInfoResp as aktualizr puts it on the wire:
// libaktualizr's KeyType numbering, not the names of AKIpUptaneKeyType.
type KeyType int64

// Key types on the wire.
const (
	KeyED25519 KeyType = 0
	KeyRSA2048 KeyType = 1
	KeyRSA3072 KeyType = 2
	KeyRSA4096 KeyType = 3
	KeyUnknown KeyType = 255
)

func (k KeyType) String() string {
	switch k {
	case KeyED25519:
		return "ED25519"
	case KeyRSA2048:
		return "RSA2048"
	case KeyRSA3072:
		return "RSA3072"
	case KeyRSA4096:
		return "RSA4096"
	case KeyUnknown:
		return "unknown"
	}
	return "keyType(" + strconv.FormatInt(int64(k), 10) + ")"
}

// Repo is AKRepoType.
type Repo int64

// Repositories.
const (
	RepoDirector Repo = 0
	RepoImage    Repo = 1
)

func (r Repo) String() string {
	switch r {
	case RepoDirector:
		return "director"
	case RepoImage:
		return "image"
	}
	return "repo(" + strconv.FormatInt(int64(r), 10) + ")"
}

// Message is one alternative of AKIpUptaneMes.
type Message interface {
	Kind() Kind
	encode(w *writer)
	decode(r *reader) error
}

// MetaJSON is AKMetaJson: one metadata file of a repository.
type MetaJSON struct {
	Role string // "root", "timestamp", "snapshot", "targets"
	JSON []byte
}

// GetInfoRequest asks the Secondary who it is.
type GetInfoRequest struct{}

// GetInfoResponse: the Secondary's serial, hardware ID and public key. An
// ED25519 key is its 64 upper-case hex characters; an RSA key is PEM.
type GetInfoResponse struct {
	ECUSerial  string
	HardwareID string
	KeyType    KeyType
	Key        []byte
}

// ManifestRequest asks for the Secondary's signed version manifest.
type ManifestRequest struct{}

// ManifestResponse carries the signed manifest (JSON).
type ManifestResponse struct{ JSON []byte }

// PutMetaRequest is the v1 metadata message (deprecated).
type PutMetaRequest struct {
	ImageRoot, ImageTimestamp, ImageSnapshot, ImageTargets []byte
	DirectorRoot, DirectorTargets                          []byte
}

// PutMetaResponse is the v1 answer: success (0) or failure (1).
type PutMetaResponse struct{ Failure bool }

// SendFirmwareRequest is the v1 image message: the whole image at once.
type SendFirmwareRequest struct{ Firmware []byte }

// SendFirmwareResponse is the v1 answer.
type SendFirmwareResponse struct{ Failure bool }

// InstallRequest names the target to install (field "hash" in the ASN.1;
// aktualizr puts the target's file name there).
type InstallRequest struct{ Hash string }

// InstallResponse is the v1 answer.
type InstallResponse struct{ Result ResultCode }

// UploadDataRequest is one chunk of the image.
type UploadDataRequest struct{ Data []byte }

// UploadDataResponse answers a chunk.
type UploadDataResponse struct {
	Result      ResultCode
	Description string
}

// PutMetaRequest2 carries the metadata of both repositories (v2).
type PutMetaRequest2 struct {
	Image    []MetaJSON
	Director []MetaJSON
}

// PutMetaResponse2 is the verdict of the Secondary's metadata verification.
type PutMetaResponse2 struct {
	Result      ResultCode
	Description string
}

// InstallResponse2 is the v2 answer to InstallRequest.
type InstallResponse2 struct {
	Result      ResultCode
	Description string
}

// VersionRequest offers the Primary's protocol version.
type VersionRequest struct{ Version int64 }

// VersionResponse is the Secondary's protocol version.
type VersionResponse struct{ Version int64 }

// RootVersionRequest asks for the version of a repository's trusted Root.
type RootVersionRequest struct{ Repo Repo }

// RootVersionResponse: the version, 0 (or below) when none.
type RootVersionResponse struct{ Version int64 }

// PutRootRequest sends one (intermediate) Root of a repository.
type PutRootRequest struct {
	Repo Repo
	JSON []byte
}

// PutRootResponse is the verdict on it.
type PutRootResponse struct {
	Result      ResultCode
	Description string
}

func (GetInfoRequest) Kind() Kind             { return KindGetInfoReq }
func (GetInfoResponse) Kind() Kind            { return KindGetInfoResp }
func (ManifestRequest) Kind() Kind            { return KindManifestReq }
func (ManifestResponse) Kind() Kind           { return KindManifestResp }
func (PutMetaRequest) Kind() Kind             { return KindPutMetaReq }
func (PutMetaResponse) Kind() Kind            { return KindPutMetaResp }
func (SendFirmwareRequest) Kind() Kind        { return KindSendFirmwareReq }
func (SendFirmwareResponse) Kind() Kind       { return KindSendFirmwareResp }
func (InstallRequest) Kind() Kind             { return KindInstallReq }
func (InstallResponse) Kind() Kind            { return KindInstallResp }
func (UploadDataRequest) Kind() Kind          { return KindUploadDataReq }
func (UploadDataResponse) Kind() Kind         { return KindUploadDataResp }
func (PutMetaRequest2) Kind() Kind            { return KindPutMetaReq2 }
func (PutMetaResponse2) Kind() Kind           { return KindPutMetaResp2 }
func (InstallResponse2) Kind() Kind           { return KindInstallResp2 }
func (VersionRequest) Kind() Kind             { return KindVersionReq }
func (VersionResponse) Kind() Kind            { return KindVersionResp }
func (RootVersionRequest) Kind() Kind         { return KindRootVerReq }
func (RootVersionResponse) Kind() Kind        { return KindRootVerResp }
func (PutRootRequest) Kind() Kind             { return KindPutRootReq }
func (PutRootResponse) Kind() Kind            { return KindPutRootResp }
func (*GetInfoRequest) encode(*writer)        {}
func (*ManifestRequest) encode(*writer)       {}
func (*GetInfoRequest) decode(*reader) error  { return nil }
func (*ManifestRequest) decode(*reader) error { return nil }

func (m *GetInfoResponse) encode(w *writer) {
	w.utf8(m.ECUSerial)
	w.utf8(m.HardwareID)
	w.enum(int64(m.KeyType))
	w.bytes(m.Key)
}

func (m *GetInfoResponse) decode(r *reader) (err error) {
	if m.ECUSerial, err = r.utf8("ecuSerial"); err != nil {
		return err
	}
	if m.HardwareID, err = r.utf8("hwId"); err != nil {
		return err
	}
	kt, err := r.integer("keyType", tagEnumerated)
	if err != nil {
		return err
	}
	m.KeyType = KeyType(kt)
	m.Key, err = r.bytes("key")
	return err
}

func (m *ManifestResponse) encode(w *writer) { w.bytes(m.JSON) }
func (m *ManifestResponse) decode(r *reader) (err error) {
	m.JSON, err = r.bytes("manifest.json")
	return err
}

func (m *PutMetaRequest) encode(w *writer) {
	w.wrap(tagSequence, func(w *writer) {
		w.bytes(m.ImageRoot)
		w.bytes(m.ImageTimestamp)
		w.bytes(m.ImageSnapshot)
		w.bytes(m.ImageTargets)
	})
	w.wrap(tagSequence, func(w *writer) {
		w.bytes(m.DirectorRoot)
		w.bytes(m.DirectorTargets)
	})
}

func (m *PutMetaRequest) decode(r *reader) error {
	im, err := r.seq("image.json")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		p    *[]byte
	}{{"root", &m.ImageRoot}, {"timestamp", &m.ImageTimestamp}, {"snapshot", &m.ImageSnapshot}, {"targets", &m.ImageTargets}} {
		if *f.p, err = im.bytes(f.name); err != nil {
			return err
		}
	}
	if err := im.end(); err != nil {
		return err
	}
	dir, err := r.seq("director.json")
	if err != nil {
		return err
	}
	if m.DirectorRoot, err = dir.bytes("root"); err != nil {
		return err
	}
	if m.DirectorTargets, err = dir.bytes("targets"); err != nil {
		return err
	}
	return dir.end()
}

// AKInstallationResult (v1): success(0), failure(1).
func encodeFailure(w *writer, failure bool) {
	if failure {
		w.enum(1)
	} else {
		w.enum(0)
	}
}

func decodeFailure(r *reader) (bool, error) {
	v, err := r.integer("result", tagEnumerated)
	return v != 0, err
}

func (m *PutMetaResponse) encode(w *writer) { encodeFailure(w, m.Failure) }
func (m *PutMetaResponse) decode(r *reader) (err error) {
	m.Failure, err = decodeFailure(r)
	return err
}
func (m *SendFirmwareRequest) encode(w *writer) { w.bytes(m.Firmware) }
func (m *SendFirmwareRequest) decode(r *reader) (err error) {
	m.Firmware, err = r.bytes("firmware")
	return err
}
func (m *SendFirmwareResponse) encode(w *writer) { encodeFailure(w, m.Failure) }
func (m *SendFirmwareResponse) decode(r *reader) (err error) {
	m.Failure, err = decodeFailure(r)
	return err
}
func (m *InstallRequest) encode(w *writer) { w.bytes([]byte(m.Hash)) }
func (m *InstallRequest) decode(r *reader) error {
	b, err := r.bytes("hash")
	m.Hash = string(b)
	return err
}
func (m *InstallResponse) encode(w *writer) { w.enum(int64(m.Result)) }
func (m *InstallResponse) decode(r *reader) error {
	v, err := r.integer("result", tagEnumerated)
	m.Result = ResultCode(v)
	return err
}
func (m *UploadDataRequest) encode(w *writer) { w.bytes(m.Data) }
func (m *UploadDataRequest) decode(r *reader) (err error) {
	m.Data, err = r.bytes("data")
	return err
}

func encodeResult(w *writer, c ResultCode, d string) {
	w.enum(int64(c))
	w.bytes([]byte(d))
}

func decodeResult(r *reader) (ResultCode, string, error) {
	v, err := r.integer("result", tagEnumerated)
	if err != nil {
		return 0, "", err
	}
	d, err := r.bytes("description")
	return ResultCode(v), string(d), err
}

func (m *UploadDataResponse) encode(w *writer) { encodeResult(w, m.Result, m.Description) }
func (m *UploadDataResponse) decode(r *reader) (err error) {
	m.Result, m.Description, err = decodeResult(r)
	return err
}
func (m *PutMetaResponse2) encode(w *writer) { encodeResult(w, m.Result, m.Description) }
func (m *PutMetaResponse2) decode(r *reader) (err error) {
	m.Result, m.Description, err = decodeResult(r)
	return err
}
func (m *InstallResponse2) encode(w *writer) { encodeResult(w, m.Result, m.Description) }
func (m *InstallResponse2) decode(r *reader) (err error) {
	m.Result, m.Description, err = decodeResult(r)
	return err
}
func (m *PutRootResponse) encode(w *writer) { encodeResult(w, m.Result, m.Description) }
func (m *PutRootResponse) decode(r *reader) (err error) {
	m.Result, m.Description, err = decodeResult(r)
	return err
}

func encodeCollection(w *writer, c []MetaJSON) {
	w.wrap(tagSequence, func(w *writer) {
		for _, m := range c {
			w.wrap(tagSequence, func(w *writer) {
				w.bytes([]byte(m.Role))
				w.bytes(m.JSON)
			})
		}
	})
}

// MaxCollection bounds the metadata objects of one repository in
// putMetaReq2 (aktualizr sends at most 4).
const MaxCollection = 16

func decodeCollection(r *reader, what string) ([]MetaJSON, error) {
	c, err := r.seq(what)
	if err != nil {
		return nil, err
	}
	var out []MetaJSON
	for i := 0; c.more(); i++ {
		if i == MaxCollection {
			return nil, c.fail(c.pos, "more than %d metadata objects", MaxCollection)
		}
		e, err := c.seq(fmt.Sprintf("[%d]", i))
		if err != nil {
			return nil, err
		}
		role, err := e.bytes("role")
		if err != nil {
			return nil, err
		}
		js, err := e.bytes("json")
		if err != nil {
			return nil, err
		}
		if err := e.end(); err != nil {
			return nil, err
		}
		out = append(out, MetaJSON{Role: string(role), JSON: js})
	}
	return out, nil
}

func (m *PutMetaRequest2) encode(w *writer) {
	encodeCollection(w, m.Image)
	encodeCollection(w, m.Director)
}

func (m *PutMetaRequest2) decode(r *reader) (err error) {
	if m.Image, err = decodeCollection(r, "imageRepo"); err != nil {
		return err
	}
	m.Director, err = decodeCollection(r, "directorRepo")
	return err
}

func (m *VersionRequest) encode(w *writer) { w.integer(m.Version) }
func (m *VersionRequest) decode(r *reader) (err error) {
	m.Version, err = r.integer("version", tagInteger)
	return err
}
func (m *VersionResponse) encode(w *writer) { w.integer(m.Version) }
func (m *VersionResponse) decode(r *reader) (err error) {
	m.Version, err = r.integer("version", tagInteger)
	return err
}
func (m *RootVersionRequest) encode(w *writer) { w.enum(int64(m.Repo)) }
func (m *RootVersionRequest) decode(r *reader) error {
	v, err := r.integer("repotype", tagEnumerated)
	m.Repo = Repo(v)
	return err
}
func (m *RootVersionResponse) encode(w *writer) { w.integer(m.Version) }
func (m *RootVersionResponse) decode(r *reader) (err error) {
	m.Version, err = r.integer("version", tagInteger)
	return err
}
func (m *PutRootRequest) encode(w *writer) {
	w.enum(int64(m.Repo))
	w.bytes(m.JSON)
}
func (m *PutRootRequest) decode(r *reader) error {
	v, err := r.integer("repotype", tagEnumerated)
	if err != nil {
		return err
	}
	m.Repo = Repo(v)
	m.JSON, err = r.bytes("json")
	return err
}

// newMessage returns an empty message of kind k, or nil for an alternative
// this package does not carry (the OSTree messages).
func newMessage(k Kind) Message {
	switch k {
	case KindGetInfoReq:
		return &GetInfoRequest{}
	case KindGetInfoResp:
		return &GetInfoResponse{}
	case KindManifestReq:
		return &ManifestRequest{}
	case KindManifestResp:
		return &ManifestResponse{}
	case KindPutMetaReq:
		return &PutMetaRequest{}
	case KindPutMetaResp:
		return &PutMetaResponse{}
	case KindSendFirmwareReq:
		return &SendFirmwareRequest{}
	case KindSendFirmwareResp:
		return &SendFirmwareResponse{}
	case KindInstallReq:
		return &InstallRequest{}
	case KindInstallResp:
		return &InstallResponse{}
	case KindUploadDataReq:
		return &UploadDataRequest{}
	case KindUploadDataResp:
		return &UploadDataResponse{}
	case KindPutMetaReq2:
		return &PutMetaRequest2{}
	case KindPutMetaResp2:
		return &PutMetaResponse2{}
	case KindInstallResp2:
		return &InstallResponse2{}
	case KindVersionReq:
		return &VersionRequest{}
	case KindVersionResp:
		return &VersionResponse{}
	case KindRootVerReq:
		return &RootVersionRequest{}
	case KindRootVerResp:
		return &RootVersionResponse{}
	case KindPutRootReq:
		return &PutRootRequest{}
	case KindPutRootResp:
		return &PutRootResponse{}
	}
	return nil
}
