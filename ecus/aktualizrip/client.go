package aktualizrip

import (
	"errors"
	"fmt"
	"io"
)

// LatestVersion is the highest protocol version this package speaks.
const LatestVersion = 2

// DefaultChunk is the image bytes per uploadDataReq, as aktualizr's Primary
// sends them.
const DefaultChunk = 1024

// Client is the Primary's end: one request, one response, on a connection
// it opens on first use and opens again after any transport error (so a
// Secondary that restarted is reached on the next call).
type Client struct {
	Dial Dialer
	// Max caps a response (MaxMessage when 0).
	Max int
	// Chunk is the image bytes per uploadDataReq (DefaultChunk when 0).
	Chunk int
	// Observe, when set, sees every message sent ("tx") and received ("rx").
	Observe func(dir string, m Message)
	// Before, when set, runs before each request is sent (the harness sets
	// the Secondary's clock there); an error stops the request.
	Before func(req Message) error

	conn Conn
	// Version is the negotiated protocol version (0 until Negotiate).
	Version int64
}

// TransportError: the connection failed or the Secondary dropped it
// (aktualizr-secondary drops the connection, without an answer, on a
// message it cannot decode or does not know).
type TransportError struct {
	Op  Kind
	Err error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("aktualizr-ip: %s: %v", e.Op, e.Err)
}
func (e *TransportError) Unwrap() error { return e.Err }

// UnexpectedError: the Secondary answered with the wrong alternative.
type UnexpectedError struct {
	Op   Kind
	Want Kind
	Got  Kind
}

func (e *UnexpectedError) Error() string {
	return fmt.Sprintf("aktualizr-ip: %s: answered with %s, want %s", e.Op, e.Got, e.Want)
}

// ResultError: the Secondary answered with a result code other than ok.
type ResultError struct {
	Op          Kind
	Code        ResultCode
	Description string
}

func (e *ResultError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("aktualizr-ip: %s: %s", e.Op, e.Code)
	}
	return fmt.Sprintf("aktualizr-ip: %s: %s: %s", e.Op, e.Code, e.Description)
}

// Close closes the connection, if open.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Call sends req and returns the response if it is of kind want.
func (c *Client) Call(req Message, want Kind) (Message, error) {
	if c.conn == nil {
		conn, err := c.Dial()
		if err != nil {
			return nil, &TransportError{Op: req.Kind(), Err: err}
		}
		c.conn = conn
	}
	if c.Before != nil {
		if err := c.Before(req); err != nil {
			return nil, &TransportError{Op: req.Kind(), Err: err}
		}
	}
	if c.Observe != nil {
		c.Observe("tx", req)
	}
	if err := c.conn.Send(Encode(req)); err != nil {
		c.Close()
		return nil, &TransportError{Op: req.Kind(), Err: err}
	}
	raw, err := c.conn.Receive(c.Max)
	if err == nil {
		var m Message
		if m, err = Decode(raw, c.Max); err == nil {
			if c.Observe != nil {
				c.Observe("rx", m)
			}
			if m.Kind() != want {
				return nil, &UnexpectedError{Op: req.Kind(), Want: want, Got: m.Kind()}
			}
			return m, nil
		}
	}
	c.Close()
	if errors.Is(err, io.EOF) {
		err = errors.New("the Secondary closed the connection without an answer")
	}
	return nil, &TransportError{Op: req.Kind(), Err: err}
}

// GetInfo asks the Secondary for its serial, hardware ID and key.
func (c *Client) GetInfo() (*GetInfoResponse, error) {
	m, err := c.Call(&GetInfoRequest{}, KindGetInfoResp)
	if err != nil {
		return nil, err
	}
	return m.(*GetInfoResponse), nil
}

// Negotiate agrees on the protocol version as aktualizr's Primary does:
// versionReq 2; an answer at or below 2 is used (above 2: 2); no answer
// means version 1 if the Secondary still answers getInfoReq.
func (c *Client) Negotiate() (int64, error) {
	m, err := c.Call(&VersionRequest{Version: LatestVersion}, KindVersionResp)
	if err != nil {
		if _, perr := c.GetInfo(); perr != nil {
			return 0, fmt.Errorf("aktualizr-ip: version negotiation: no versionResp (%v) and no answer to getInfoReq: %w", err, perr)
		}
		c.Version = 1
		return 1, nil
	}
	v := m.(*VersionResponse).Version
	if v > LatestVersion {
		v = LatestVersion
	}
	if v < 1 {
		return 0, fmt.Errorf("aktualizr-ip: the Secondary answers protocol version %d", v)
	}
	c.Version = v
	return v, nil
}

func (c *Client) version() (int64, error) {
	if c.Version != 0 {
		return c.Version, nil
	}
	return c.Negotiate()
}

// RootVersion returns the version of the Secondary's trusted Root of repo
// (0 or below: none).
func (c *Client) RootVersion(repo Repo) (int64, error) {
	m, err := c.Call(&RootVersionRequest{Repo: repo}, KindRootVerResp)
	if err != nil {
		return 0, err
	}
	return m.(*RootVersionResponse).Version, nil
}

func result(op Kind, code ResultCode, desc string) error {
	if code != ResultOK {
		return &ResultError{Op: op, Code: code, Description: desc}
	}
	return nil
}

// PutRoot sends one Root of repo.
func (c *Client) PutRoot(repo Repo, root []byte) error {
	m, err := c.Call(&PutRootRequest{Repo: repo, JSON: root}, KindPutRootResp)
	if err != nil {
		return err
	}
	r := m.(*PutRootResponse)
	return result(KindPutRootReq, r.Result, r.Description)
}

// PutMeta sends the metadata of both repositories; the answer is the
// Secondary's verification verdict. In version 1 the roles go into the
// fixed fields of putMetaReq.
func (c *Client) PutMeta(image, director []MetaJSON) error {
	v, err := c.version()
	if err != nil {
		return err
	}
	if v == 1 {
		find := func(c []MetaJSON, role string) []byte {
			for _, m := range c {
				if m.Role == role {
					return m.JSON
				}
			}
			return nil
		}
		req := &PutMetaRequest{ImageRoot: find(image, "root"), ImageTimestamp: find(image, "timestamp"),
			ImageSnapshot: find(image, "snapshot"), ImageTargets: find(image, "targets"),
			DirectorRoot: find(director, "root"), DirectorTargets: find(director, "targets")}
		m, err := c.Call(req, KindPutMetaResp)
		if err != nil {
			return err
		}
		if m.(*PutMetaResponse).Failure {
			return &ResultError{Op: KindPutMetaReq, Code: ResultValidationFailed}
		}
		return nil
	}
	m, err := c.Call(&PutMetaRequest2{Image: image, Director: director}, KindPutMetaResp2)
	if err != nil {
		return err
	}
	r := m.(*PutMetaResponse2)
	return result(KindPutMetaReq2, r.Result, r.Description)
}

// Upload sends an image: uploadDataReq chunks in version 2, one
// sendFirmwareReq in version 1. progress (may be nil) sees the bytes sent.
func (c *Client) Upload(data []byte, progress func(done, total int64)) error {
	v, err := c.version()
	if err != nil {
		return err
	}
	total := int64(len(data))
	if v == 1 {
		m, err := c.Call(&SendFirmwareRequest{Firmware: data}, KindSendFirmwareResp)
		if err != nil {
			return err
		}
		if m.(*SendFirmwareResponse).Failure {
			return &ResultError{Op: KindSendFirmwareReq, Code: ResultDownloadFailed}
		}
		if progress != nil {
			progress(total, total)
		}
		return nil
	}
	chunk := c.Chunk
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		m, err := c.Call(&UploadDataRequest{Data: data[off:end]}, KindUploadDataResp)
		if err != nil {
			return fmt.Errorf("at byte %d of %d: %w", off, len(data), err)
		}
		r := m.(*UploadDataResponse)
		if err := result(KindUploadDataReq, r.Result, r.Description); err != nil {
			return fmt.Errorf("at byte %d of %d: %w", off, len(data), err)
		}
		if progress != nil {
			progress(int64(end), total)
		}
	}
	return nil
}

// Install asks the Secondary to install the target it verified (name is
// the target's file name, as aktualizr sends it).
func (c *Client) Install(name string) error {
	v, err := c.version()
	if err != nil {
		return err
	}
	if v == 1 {
		m, err := c.Call(&InstallRequest{Hash: name}, KindInstallResp)
		if err != nil {
			return err
		}
		return result(KindInstallReq, m.(*InstallResponse).Result, "")
	}
	m, err := c.Call(&InstallRequest{Hash: name}, KindInstallResp2)
	if err != nil {
		return err
	}
	r := m.(*InstallResponse2)
	return result(KindInstallReq, r.Result, r.Description)
}

// Manifest returns the Secondary's signed version manifest (JSON).
func (c *Client) Manifest() ([]byte, error) {
	m, err := c.Call(&ManifestRequest{}, KindManifestResp)
	if err != nil {
		return nil, err
	}
	return m.(*ManifestResponse).JSON, nil
}
