package secondary

import (
	"fmt"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
	"github.com/uptane-hil/uptane-hil/ecus/store"
)

// Direct calls an in-process Secondary: a link.Secondary without a bus
// (the Primary's specs, runs with Direct). Reset reboots it from its state
// directory with the same configuration. A simulated power cut inside the
// ECU (a store.Crash panic) leaves it without power: every call fails until
// Reset powers it on again.
type Direct struct {
	ECU *ECU
	Cfg Config
	VIN string
	// Dead is the crash point at which the ECU lost power, or "".
	Dead string
}

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

// Identity implements link.Secondary.
func (d *Direct) Identity() (pouf.Identity, error) {
	return pouf.Identity{ID: d.ECU.ID(), HardwareID: d.ECU.HardwareID(), VIN: d.VIN, Verification: d.ECU.Verification(),
		Key: d.ECU.PublicKey(), EncryptionKey: d.ECU.EncryptionKey()}, nil
}

func (d *Direct) WriteNonce(n []byte) error {
	return d.guard(func() error { return d.ECU.SetNonce(n) })
}
func (d *Direct) TimeNonce() (n []byte, err error) {
	err = d.guard(func() error { n = d.ECU.TimeNonce(); return nil })
	return
}
func (d *Direct) WriteTime(att []byte) error {
	return d.guard(func() error { return d.ECU.SetTime(att) })
}
func (d *Direct) PutMetadata(repo, name string, data []byte, p pouf.Progress) error {
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
func (d *Direct) PutImage(name string, data []byte, p pouf.Progress) error {
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
		e, err := Boot(d.Cfg)
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
