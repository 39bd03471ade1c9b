// Package capture records what a CAN bus carries: pcap files with the
// LINKTYPE_CAN_SOCKETCAN link type (Wireshark, tshark, tcpdump read them) and
// can-utils candump -L log files, and replays logs onto a bus.
//
// Captures hold bus frames and nothing else: the SocketCAN header, the data
// bytes and zero padding. Fault-injection events map onto what a receiver on
// a real bus would have seen:
//   - a clean frame and the faults that leave a frame on the wire
//     (can.FaultDelay, FaultDuplicate, FaultReorder,
//     FaultCorruptUndetected): the frame as carried;
//   - can.FaultCorrupt (a frame whose corruption the receivers detected): a
//     SocketCAN error frame (protocol violation in the CRC sequence), as
//     candump shows a CRC error;
//   - can.FaultDrop and FaultBusOff: nothing (the frame never reached the
//     wire).
//
// The fault labels themselves are in the bus's tap events, which reports use.
package capture

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// The error frame a capture holds for a corrupted frame (linux/can/error.h):
// ErrClassProt is CAN_ERR_PROT, the protocol-violation error class;
// ErrLocCRCSeq is CAN_ERR_PROT_LOC_CRC_SEQ (data[3]).
const (
	ErrClassProt = 0x00000008
	ErrLocCRCSeq = 0x08
)

// Record is one frame of a capture or log.
type Record struct {
	Time time.Time
	// Iface is the interface a candump log names ("" in pcap files).
	Iface string
	Frame can.Frame
	// Error marks a SocketCAN error frame: Frame.ID holds the error class
	// bits (CAN_ERR_*), Frame.Data the details.
	Error bool
}

// FromEvent maps a bus tap event to the record a capture holds (see the
// package comment); ok is false when nothing is recorded.
func FromEvent(ev can.Event, iface string) (r Record, ok bool) {
	switch {
	case !ev.Fault.OnWire():
		return Record{}, false
	case ev.Fault == can.FaultCorrupt:
		ef := can.Frame{ID: ErrClassProt, Len: 8}
		ef.Data[3] = ErrLocCRCSeq
		return Record{Time: ev.Time, Iface: iface, Frame: ef, Error: true}, true
	}
	return Record{Time: ev.Time, Iface: iface, Frame: ev.Frame}, true
}

// EncodeSocketCAN returns the LINKTYPE_CAN_SOCKETCAN packet for r: a 16-byte
// struct can_frame for classic and error frames, a 72-byte struct
// canfd_frame (with CANFD_FDF set) for CAN FD frames. The identifier is in
// network byte order; unused data bytes are zero (can.EncodeSocketCAN).
func EncodeSocketCAN(r Record) []byte { return can.EncodeSocketCAN(r.Frame, r.Error, binary.BigEndian) }

// DecodeSocketCAN parses a LINKTYPE_CAN_SOCKETCAN packet. A packet is CAN FD
// when CANFD_FDF is set or (older writers) when it is 72 bytes long.
func DecodeSocketCAN(b []byte) (Record, error) {
	f, errFrame, err := can.DecodeSocketCAN(b, binary.BigEndian)
	if err != nil {
		return Record{}, fmt.Errorf("capture: %w", err)
	}
	return Record{Frame: f, Error: errFrame}, nil
}
