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

// SocketCAN flags (linux/can.h).
const (
	EFFFlag = 0x80000000 // CAN_EFF_FLAG: extended identifier
	RTRFlag = 0x40000000 // CAN_RTR_FLAG: remote frame
	ERRFlag = 0x20000000 // CAN_ERR_FLAG: error frame

	FDFlagBRS = 0x01 // CANFD_BRS
	FDFlagESI = 0x02 // CANFD_ESI
	FDFlagFDF = 0x04 // CANFD_FDF: marks a CAN FD frame

	// ErrClassProt is CAN_ERR_PROT, the protocol-violation error class;
	// ErrLocCRCSeq is CAN_ERR_PROT_LOC_CRC_SEQ (data[3]).
	ErrClassProt = 0x00000008
	ErrLocCRCSeq = 0x08
)

// Sizes of struct can_frame and struct canfd_frame.
const (
	ClassicMTU = 16
	FDMTU      = 72
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
// network byte order; unused data bytes are zero.
func EncodeSocketCAN(r Record) []byte {
	f := &r.Frame
	size := ClassicMTU
	if f.FD && !r.Error {
		size = FDMTU
	}
	b := make([]byte, size)
	id := f.ID
	switch {
	case r.Error:
		id = f.ID&can.MaxExtID | ERRFlag
	case f.Extended:
		id |= EFFFlag
	}
	if f.Remote && !r.Error {
		id |= RTRFlag
	}
	binary.BigEndian.PutUint32(b[0:4], id)
	n := int(f.Len)
	if n > size-8 {
		n = size - 8
	}
	b[4] = byte(n)
	if f.FD && !r.Error {
		flags := byte(FDFlagFDF)
		if f.BRS {
			flags |= FDFlagBRS
		}
		if f.ESI {
			flags |= FDFlagESI
		}
		b[5] = flags
	}
	if !f.Remote || r.Error {
		copy(b[8:8+n], f.Data[:n])
	}
	return b
}

// DecodeSocketCAN parses a LINKTYPE_CAN_SOCKETCAN packet. A packet is CAN FD
// when CANFD_FDF is set or (older writers) when it is 72 bytes long.
func DecodeSocketCAN(b []byte) (Record, error) {
	if len(b) < 8 {
		return Record{}, fmt.Errorf("capture: SocketCAN packet of %d bytes is shorter than its 8-byte header", len(b))
	}
	var r Record
	id := binary.BigEndian.Uint32(b[0:4])
	n := int(b[4])
	flags := b[5]
	fd := flags&FDFlagFDF != 0 || len(b) == FDMTU
	f := &r.Frame
	switch {
	case id&ERRFlag != 0:
		r.Error = true
		f.ID = id & can.MaxExtID
	case id&EFFFlag != 0:
		f.Extended = true
		f.ID = id & can.MaxExtID
	default:
		if id&^RTRFlag > can.MaxStdID {
			return Record{}, fmt.Errorf("capture: SocketCAN packet: standard identifier %#x does not fit in 11 bits", id&^RTRFlag)
		}
		f.ID = id &^ RTRFlag
	}
	f.Remote = id&RTRFlag != 0 && !r.Error
	if fd && !r.Error {
		if f.Remote {
			return Record{}, fmt.Errorf("capture: SocketCAN packet: CAN FD frame with the RTR flag (id %#x)", f.ID)
		}
		f.FD = true
		f.BRS = flags&FDFlagBRS != 0
		f.ESI = flags&FDFlagESI != 0
		if !can.ValidFDLen(n) {
			return Record{}, fmt.Errorf("capture: SocketCAN packet: %d is not a valid CAN FD length (id %#x)", n, f.ID)
		}
	} else if n > can.MaxClassicLen {
		return Record{}, fmt.Errorf("capture: SocketCAN packet: classic frame with length %d (id %#x)", n, f.ID)
	}
	f.Len = uint8(n)
	if !f.Remote {
		if 8+n > len(b) {
			return Record{}, fmt.Errorf("capture: SocketCAN packet: length %d but only %d data bytes captured (id %#x)", n, len(b)-8, f.ID)
		}
		copy(f.Data[:], b[8:8+n])
	}
	return r, nil
}
