// Package pouf is the in-vehicle protocol of uptane-hil: Uptane carried over
// UDS (ISO 14229-1) on ISO-TP (ISO 15765-2) on CAN, the way ECU bootloaders
// are flashed. docs/pouf.md is the specification; this package holds its
// numbers (data identifiers, routine identifiers, limits, CAN identifiers),
// the codecs of its payloads (file paths, routine results, identity values)
// and Client, the Primary's side of every Uptane operation.
package pouf

import (
	"fmt"
	"time"
)

// Data identifiers (ReadDataByIdentifier 0x22 / WriteDataByIdentifier 0x2E).
// The first three are ISO 14229-1 standard identifiers; the others are in
// the vehicle-manufacturer identification range 0xF1A0–0xF1EF.
const (
	DIDVIN            uint16 = 0xF190 // VIN, ASCII (read)
	DIDECUSerial      uint16 = 0xF18C // ECU serial number = Uptane ECU identifier, ASCII (read)
	DIDHardwareNumber uint16 = 0xF191 // ECU hardware number = Uptane hardware identifier, ASCII (read)

	DIDSigningKey    uint16 = 0xF1A0 // ECU signing public key, TUF key JSON (read)
	DIDEncryptionKey uint16 = 0xF1A1 // ECU encryption public key, X25519, 32 bytes (read)
	DIDVersionReport uint16 = 0xF1A2 // signed ECU version report, JSON (read)
	DIDNonce         uint16 = 0xF1A3 // nonce of this cycle, 1..64 bytes (write, read)
	DIDTime          uint16 = 0xF1A4 // write: a signed time attestation (JSON); read: latest attested time, 8-byte Unix seconds
	DIDVerification  uint16 = 0xF1A5 // verification profile: 0x01 full, 0x02 partial (read)
	DIDMaxImage      uint16 = 0xF1A6 // largest image the ECU takes, 4 bytes (read)
	DIDMaxMetadata   uint16 = 0xF1A7 // largest metadata file the ECU takes, 4 bytes (read)
	DIDTimeNonce     uint16 = 0xF1A8 // nonce the ECU made for its next time attestation, 16 bytes (read)
	// DIDPreconditions: which of the ECU's programming preconditions do not
	// hold now, in its own words (ASCII, at most MaxPreconditions bytes;
	// empty when all hold): what its NRC 0x22 conditionsNotCorrect stood
	// for (read, any session; NRC 0x31 when it declares none).
	DIDPreconditions uint16 = 0xF1A9
)

// Routine identifiers (RoutineControl 0x31, startRoutine).
const (
	RoutineVerifyMetadata uint16 = 0xFF10 // {#verify_metadata}: full or partial per profile
	RoutineVerifyImage    uint16 = 0xFF11 // {#verify_image}
	RoutineInstall        uint16 = 0xFF12 // {#install_image}: long, answered 0x78 until done
	RoutineVersionReport  uint16 = 0xFF13 // {#create_version_report}: sign a new report for DIDVersionReport
	RoutineAbort          uint16 = 0xFF14 // forget what this cycle received
)

// RoutineName names a routine of this POUF.
func RoutineName(id uint16) string {
	switch id {
	case RoutineVerifyMetadata:
		return "verify metadata (0xFF10)"
	case RoutineVerifyImage:
		return "verify image (0xFF11)"
	case RoutineInstall:
		return "install (0xFF12)"
	case RoutineVersionReport:
		return "create version report (0xFF13)"
	case RoutineAbort:
		return "abort (0xFF14)"
	}
	return fmt.Sprintf("routine 0x%04X", id)
}

// Verification profile values of DIDVerification.
const (
	VerificationFull    byte = 0x01
	VerificationPartial byte = 0x02
)

// Limits of the protocol.
const (
	MaxIdentifier     = 64      // bytes of an ECU or hardware identifier
	MaxVIN            = 32      // bytes of a VIN
	MaxKeyJSON        = 1024    // bytes of the signing key's JSON
	MaxNonce          = 64      // bytes of a nonce (uptane/manifest.MaxNonce)
	MaxVersionReport  = 4092    // bytes of a version report: one classic ISO-TP message less the DID echo
	MaxPreconditions  = 512     // bytes of DIDPreconditions
	MaxMetadataFile   = 1 << 20 // default largest metadata file
	MaxImage          = 64 << 20
	MaxPath           = 512  // bytes of a file path
	BlockLength       = 4095 // maxNumberOfBlockLength on classic CAN (one ISO-TP message)
	BlockLengthFD     = 4095 // also on CAN FD: interoperable with classic ISO-TP receivers
	EncryptionKeySize = 32
)

// Timing of the protocol (ISO 14229-2 defaults unless stated).
const (
	P2                  = 50 * time.Millisecond
	P2Star              = 5 * time.Second
	S3                  = 5 * time.Second
	TesterPresentPeriod = 2 * time.Second
	InstallTimeout      = 10 * time.Minute // longest install the Primary waits through 0x78
)

// CAN addressing.
const (
	// TesterAddress is the Primary's source address in 29-bit normal fixed
	// addressing.
	TesterAddress byte = 0xF1
	// FunctionalRequestID is the 11-bit OBD functional request identifier
	// (not used by this POUF; every request is physically addressed).
	FunctionalRequestID uint32 = 0x7DF
	// MaxPhysical11 is how many ECUs 11-bit physical addressing reaches.
	MaxPhysical11 = 8
)

// PhysicalIDs returns the 11-bit request and response identifiers of ECU
// number n (0..7): 0x7E0+n and 0x7E8+n.
func PhysicalIDs(n int) (request, response uint32, err error) {
	if n < 0 || n >= MaxPhysical11 {
		return 0, 0, fmt.Errorf("pouf: ECU number %d: 11-bit physical addressing has 0..%d", n, MaxPhysical11-1)
	}
	return 0x7E0 + uint32(n), 0x7E8 + uint32(n), nil
}

// NormalFixedIDs returns the 29-bit normal fixed addressing identifiers
// between the tester and the ECU at address ecu: request 0x18DA<ecu><F1>,
// response 0x18DA<F1><ecu>.
func NormalFixedIDs(ecu byte) (request, response uint32) {
	return 0x18DA0000 | uint32(ecu)<<8 | uint32(TesterAddress), 0x18DA0000 | uint32(TesterAddress)<<8 | uint32(ecu)
}
