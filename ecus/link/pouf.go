package link

import (
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
)

// Pouf reaches a Secondary over the in-vehicle protocol: UDS on ISO-TP on
// CAN (docs/pouf.md). Failed checks come back as *pouf.RoutineError, which
// unwraps to the Secondary's *check.Error.
type Pouf struct{ C *pouf.Client }

// Identity implements Secondary.
func (p *Pouf) Identity() (pouf.Identity, error) { return p.C.ReadIdentity() }

func (p *Pouf) WriteNonce(n []byte) error  { return p.C.WriteNonce(n) }
func (p *Pouf) TimeNonce() ([]byte, error) { return p.C.ReadTimeNonce() }
func (p *Pouf) WriteTime(att []byte) error { return p.C.WriteTime(att) }
func (p *Pouf) PutMetadata(repo, name string, data []byte, pr pouf.Progress) error {
	return p.C.PutMetadata(repo, name, data, pr)
}
func (p *Pouf) VerifyMetadata() (bool, error) { return p.C.VerifyMetadata() }
func (p *Pouf) PutImage(name string, data []byte, pr pouf.Progress) error {
	return p.C.PutImage(name, data, pr)
}
func (p *Pouf) VerifyImage() error { return p.C.VerifyImage() }
func (p *Pouf) Install() error     { return p.C.Install() }
func (p *Pouf) Reset() error       { return p.C.Reset() }
func (p *Pouf) VersionReport() ([]byte, error) {
	return p.C.ReadVersionReport()
}

// UnmetConditions implements Conditions.
func (p *Pouf) UnmetConditions() (string, error) { return p.C.UnmetConditions() }
