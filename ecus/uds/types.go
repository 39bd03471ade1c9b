package uds

import "fmt"

// Service is a UDS service identifier (SID) of a request.
type Service byte

// The services of this package.
const (
	DiagnosticSessionControl Service = 0x10
	ECUReset                 Service = 0x11
	ReadDataByIdentifier     Service = 0x22
	WriteDataByIdentifier    Service = 0x2E
	RoutineControl           Service = 0x31
	TransferData             Service = 0x36
	RequestTransferExit      Service = 0x37
	RequestFileTransfer      Service = 0x38
	TesterPresent            Service = 0x3E
)

// NegativeResponseSID starts every negative response: 7F <SID> <NRC>.
const NegativeResponseSID = 0x7F

// PositiveOffset is added to a request SID to form its positive response SID.
const PositiveOffset = 0x40

// SuppressPosRsp is bit 7 of a sub-function byte: no positive response is
// wanted.
const SuppressPosRsp = 0x80

var serviceNames = map[Service]string{
	DiagnosticSessionControl: "DiagnosticSessionControl",
	ECUReset:                 "ECUReset",
	ReadDataByIdentifier:     "ReadDataByIdentifier",
	WriteDataByIdentifier:    "WriteDataByIdentifier",
	RoutineControl:           "RoutineControl",
	TransferData:             "TransferData",
	RequestTransferExit:      "RequestTransferExit",
	RequestFileTransfer:      "RequestFileTransfer",
	TesterPresent:            "TesterPresent",
}

// String is the ISO 14229-1 name and the SID: "ReadDataByIdentifier (0x22)".
func (s Service) String() string {
	if n, ok := serviceNames[s]; ok {
		return fmt.Sprintf("%s (0x%02X)", n, byte(s))
	}
	return fmt.Sprintf("service 0x%02X", byte(s))
}

// hasSubFunction reports whether the service's second byte is a
// sub-function (with the suppressPosRsp bit).
func (s Service) hasSubFunction() bool {
	switch s {
	case DiagnosticSessionControl, ECUReset, RoutineControl, TesterPresent:
		return true
	}
	return false
}

// NRC is a negative response code.
type NRC byte

// The negative response codes this package sends or understands.
const (
	GeneralReject                          NRC = 0x10
	ServiceNotSupported                    NRC = 0x11
	SubFunctionNotSupported                NRC = 0x12
	IncorrectMessageLengthOrInvalidFormat  NRC = 0x13
	ResponseTooLong                        NRC = 0x14
	BusyRepeatRequest                      NRC = 0x21
	ConditionsNotCorrect                   NRC = 0x22
	RequestSequenceError                   NRC = 0x24
	RequestOutOfRange                      NRC = 0x31
	SecurityAccessDenied                   NRC = 0x33
	UploadDownloadNotAccepted              NRC = 0x70
	TransferDataSuspended                  NRC = 0x71
	GeneralProgrammingFailure              NRC = 0x72
	WrongBlockSequenceCounter              NRC = 0x73
	ResponsePending                        NRC = 0x78
	SubFunctionNotSupportedInActiveSession NRC = 0x7E
	ServiceNotSupportedInActiveSession     NRC = 0x7F
)

var nrcNames = map[NRC]string{
	GeneralReject:                          "generalReject",
	ServiceNotSupported:                    "serviceNotSupported",
	SubFunctionNotSupported:                "subFunctionNotSupported",
	IncorrectMessageLengthOrInvalidFormat:  "incorrectMessageLengthOrInvalidFormat",
	ResponseTooLong:                        "responseTooLong",
	BusyRepeatRequest:                      "busyRepeatRequest",
	ConditionsNotCorrect:                   "conditionsNotCorrect",
	RequestSequenceError:                   "requestSequenceError",
	RequestOutOfRange:                      "requestOutOfRange",
	SecurityAccessDenied:                   "securityAccessDenied",
	UploadDownloadNotAccepted:              "uploadDownloadNotAccepted",
	TransferDataSuspended:                  "transferDataSuspended",
	GeneralProgrammingFailure:              "generalProgrammingFailure",
	WrongBlockSequenceCounter:              "wrongBlockSequenceCounter",
	ResponsePending:                        "requestCorrectlyReceived-ResponsePending",
	SubFunctionNotSupportedInActiveSession: "subFunctionNotSupportedInActiveSession",
	ServiceNotSupportedInActiveSession:     "serviceNotSupportedInActiveSession",
}

// String is the ISO 14229-1 name and the code: "requestOutOfRange (0x31)".
func (n NRC) String() string {
	if s, ok := nrcNames[n]; ok {
		return fmt.Sprintf("%s (0x%02X)", s, byte(n))
	}
	return fmt.Sprintf("NRC 0x%02X", byte(n))
}

// Session is a diagnostic session (DiagnosticSessionControl sub-function).
type Session byte

// The sessions of this package.
const (
	DefaultSession     Session = 0x01
	ProgrammingSession Session = 0x02
	ExtendedSession    Session = 0x03
)

func (s Session) String() string {
	switch s {
	case DefaultSession:
		return "defaultSession"
	case ProgrammingSession:
		return "programmingSession"
	case ExtendedSession:
		return "extendedDiagnosticSession"
	}
	return fmt.Sprintf("session 0x%02X", byte(s))
}

// ResetType is the ECUReset sub-function.
type ResetType byte

// The reset types a server accepts.
const (
	HardReset     ResetType = 0x01
	KeyOffOnReset ResetType = 0x02
	SoftReset     ResetType = 0x03
)

// RoutineControlType is the RoutineControl sub-function.
type RoutineControlType byte

// The routine control types.
const (
	StartRoutine          RoutineControlType = 0x01
	StopRoutine           RoutineControlType = 0x02
	RequestRoutineResults RoutineControlType = 0x03
)

func (r RoutineControlType) String() string {
	switch r {
	case StartRoutine:
		return "startRoutine"
	case StopRoutine:
		return "stopRoutine"
	case RequestRoutineResults:
		return "requestRoutineResults"
	}
	return fmt.Sprintf("routineControlType 0x%02X", byte(r))
}

// FileMode is the modeOfOperation of RequestFileTransfer.
type FileMode byte

// The modes of operation of RequestFileTransfer (ISO 14229-1:2020).
const (
	AddFile     FileMode = 0x01
	DeleteFile  FileMode = 0x02
	ReplaceFile FileMode = 0x03
	ReadFile    FileMode = 0x04
	ReadDir     FileMode = 0x05
	ResumeFile  FileMode = 0x06
)

func (m FileMode) String() string {
	switch m {
	case AddFile:
		return "AddFile"
	case DeleteFile:
		return "DeleteFile"
	case ReplaceFile:
		return "ReplaceFile"
	case ReadFile:
		return "ReadFile"
	case ReadDir:
		return "ReadDir"
	case ResumeFile:
		return "ResumeFile"
	}
	return fmt.Sprintf("modeOfOperation 0x%02X", byte(m))
}

// download reports whether the mode moves a file from client to server.
func (m FileMode) download() bool { return m == AddFile || m == ReplaceFile || m == ResumeFile }
