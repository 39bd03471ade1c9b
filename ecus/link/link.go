// Package link is how a Primary talks to one Secondary, whatever carries it:
// UDS on ISO-TP on CAN (ecus/pouf, the real path on every rig), or direct
// calls into an in-process ECU (Direct, for unit specs of the Primary's
// logic). Each method is one operation of the in-vehicle protocol
// (docs/pouf.md).
package link

import (
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/ecus/secondary"
	"github.com/uptane-hil/uptane-hil/ecus/store"
	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Identity is what a Secondary says about itself.
type Identity struct {
	ID            string
	HardwareID    string
	VIN           string
	Verification  string // "full" or "partial"
	Key           *metadata.Key
	EncryptionKey []byte
}

// Progress reports bytes transferred.
type Progress func(done, total int64)

// Secondary is one Secondary, as the Primary sees it.
type Secondary interface {
	Identity() (Identity, error)
	WriteNonce(nonce []byte) error
	WriteTime(t time.Time) error
	PutMetadata(repo, name string, data []byte, p Progress) error
	// VerifyMetadata runs full or partial verification; it reports whether
	// there is a new image for the ECU.
	VerifyMetadata() (newImage bool, err error)
	PutImage(name string, data []byte, p Progress) error
	VerifyImage() error
	Install() error
	Reset() error
	VersionReport() ([]byte, error)
}

// RemoteError is a failure the Secondary reported, carrying the check it
// names when it is one.
type RemoteError struct {
	ECU    string
	Op     string
	Check  check.ID
	Attack check.Attack
	Detail string
}

func (e *RemoteError) Error() string {
	if e.Check != 0 {
		return e.ECU + ": " + e.Op + ": " + e.Check.String() + " (" + string(e.Attack) + "): " + e.Detail
	}
	return e.ECU + ": " + e.Op + ": " + e.Detail
}

// Direct calls an in-process Secondary. Reset reboots it from its state
// directory with the same configuration. A simulated power cut inside the
// ECU (a store.Crash panic) leaves it without power: every call fails until
// Reset powers it on again.
type Direct struct {
	ECU *secondary.ECU
	Cfg secondary.Config
	VIN string
	// Dead is the crash point at which the ECU lost power, or "".
	Dead string
}

// ErrNoPower is returned by an ECU that lost power (the same error as a
// secondary.Node's Handler returns).
var ErrNoPower = secondary.ErrNoPower

func (d *Direct) guard(op func() error) (err error) {
	if d.Dead != "" {
		return fmt.Errorf("%w (cut at %s)", ErrNoPower, d.Dead)
	}
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(store.Crash)
			if !ok {
				panic(r)
			}
			d.Dead = c.Point
			err = fmt.Errorf("%w (cut at %s)", ErrNoPower, c.Point)
		}
	}()
	return op()
}

// Identity implements Secondary.
func (d *Direct) Identity() (Identity, error) {
	return Identity{ID: d.ECU.ID(), HardwareID: d.ECU.HardwareID(), VIN: d.VIN, Verification: d.ECU.Verification(),
		Key: d.ECU.PublicKey(), EncryptionKey: d.ECU.EncryptionKey()}, nil
}

func (d *Direct) WriteNonce(n []byte) error {
	return d.guard(func() error { return d.ECU.SetNonce(n) })
}
func (d *Direct) WriteTime(t time.Time) error {
	return d.guard(func() error { return d.ECU.SetTime(t) })
}
func (d *Direct) PutMetadata(repo, name string, data []byte, p Progress) error {
	err := d.guard(func() error { return d.ECU.PutMetadata(repo, name, data) })
	if err == nil && p != nil {
		p(int64(len(data)), int64(len(data)))
	}
	return err
}
func (d *Direct) VerifyMetadata() (bool, error) {
	var newImage bool
	err := d.guard(func() error {
		t, err := d.ECU.VerifyMetadata()
		newImage = t != nil
		return err
	})
	return newImage, err
}
func (d *Direct) PutImage(name string, data []byte, p Progress) error {
	err := d.guard(func() error { return d.ECU.PutImage(name, data) })
	if err == nil && p != nil {
		p(int64(len(data)), int64(len(data)))
	}
	return err
}
func (d *Direct) VerifyImage() error { return d.guard(d.ECU.VerifyImage) }
func (d *Direct) Install() error     { return d.guard(d.ECU.Install) }

// Reset reboots the ECU (and powers it on after a power cut).
func (d *Direct) Reset() error {
	d.Dead = ""
	return d.guard(func() error {
		e, err := secondary.Boot(d.Cfg)
		if err != nil {
			return err
		}
		d.ECU = e
		return nil
	})
}
func (d *Direct) VersionReport() ([]byte, error) {
	var b []byte
	err := d.guard(func() error {
		var err error
		b, err = d.ECU.VersionReport()
		return err
	})
	return b, err
}
