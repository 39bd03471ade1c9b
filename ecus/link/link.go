// Package link is how a Primary talks to one Secondary, whatever carries it:
// the in-vehicle protocol, UDS on ISO-TP on CAN (Pouf, the real path on
// every rig), or direct calls into an in-process ECU (secondary.Direct, for
// specs of the Primary's logic). Each method is one operation of the
// in-vehicle protocol (docs/pouf.md); the interface depends on the protocol,
// never on an implementation of a Secondary.
package link

import (
	"github.com/uptane-hil/uptane-hil/ecus/pouf"
)

// Secondary is one Secondary, as the Primary sees it.
type Secondary interface {
	Identity() (pouf.Identity, error)
	WriteNonce(nonce []byte) error
	// TimeNonce reads the nonce the ECU made for its next time attestation.
	TimeNonce() ([]byte, error)
	// WriteTime hands the ECU the time server's attestation.
	WriteTime(attestation []byte) error
	PutMetadata(repo, name string, data []byte, p pouf.Progress) error
	// VerifyMetadata runs full or partial verification; it reports whether
	// there is a new image for the ECU.
	VerifyMetadata() (newImage bool, err error)
	PutImage(name string, data []byte, p pouf.Progress) error
	VerifyImage() error
	Install() error
	Reset() error
	VersionReport() ([]byte, error)
}

// Conditions is a Secondary that says which of its programming
// preconditions (vehicle speed 0, ignition on, ...) do not hold now: what
// its refusal with NRC 0x22 conditionsNotCorrect stood for (pouf DID
// 0xF1A9). A Secondary reached another way tells only the NRC.
type Conditions interface {
	UnmetConditions() (string, error)
}
