// Package uds is Unified Diagnostic Services (ISO 14229-1) over any message
// transport: a client (the tester, our Primary) and a server (the ECU) that
// dispatches to a Handler the ECU implements.
//
// The services are the ones a bootloader is flashed with:
// DiagnosticSessionControl 0x10, ECUReset 0x11, ReadDataByIdentifier 0x22,
// WriteDataByIdentifier 0x2E, RoutineControl 0x31, RequestFileTransfer 0x38,
// TransferData 0x36, RequestTransferExit 0x37 and TesterPresent 0x3E. Every
// refusal is a negative response 0x7F with the ISO 14229-1 code (NRC) that
// names what failed; long work is announced with 0x78
// requestCorrectlyReceived-ResponsePending, and the client waits P2* for it.
//
// Timing runs on a sim/clock.Clock, so a run under clock.Sim is
// deterministic: the server, its worker and the client are actors.
//
// docs/pouf.md maps Uptane onto these services.
package uds
