package can

import (
	"encoding/binary"
	"fmt"
)

// The Linux SocketCAN frame layout (linux/can.h): struct can_frame and
// struct canfd_frame. The kernel's sockets (sim/socketcan, host byte order)
// and pcap files of LINKTYPE_CAN_SOCKETCAN (sim/capture, network byte
// order) share it; this is its one codec.
const (
	EFFFlag = 0x80000000 // CAN_EFF_FLAG: extended identifier
	RTRFlag = 0x40000000 // CAN_RTR_FLAG: remote frame
	ERRFlag = 0x20000000 // CAN_ERR_FLAG: error frame

	FDFlagBRS = 0x01 // CANFD_BRS
	FDFlagESI = 0x02 // CANFD_ESI
	FDFlagFDF = 0x04 // CANFD_FDF: marks a CAN FD frame

	// SocketCANMTU and SocketCANFDMTU are the sizes of struct can_frame
	// and struct canfd_frame (CAN_MTU, CANFD_MTU).
	SocketCANMTU   = 16
	SocketCANFDMTU = 72
)

// EncodeSocketCAN returns f as a struct can_frame (16 bytes; error frames
// too) or, for a CAN FD frame, a struct canfd_frame (72 bytes, CANFD_FDF
// set), with the can_id in byte order order. An error frame (errFrame) has
// the error class bits in f.ID and its details in f.Data. Data bytes past
// f.Len, and those of a remote frame, are zero.
func EncodeSocketCAN(f Frame, errFrame bool, order binary.ByteOrder) []byte {
	size := SocketCANMTU
	if f.FD && !errFrame {
		size = SocketCANFDMTU
	}
	b := make([]byte, size)
	PutSocketCAN(b, f, errFrame, order)
	return b
}

// PutSocketCAN writes f as EncodeSocketCAN does into b, which must hold
// SocketCANFDMTU bytes for an FD frame (SocketCANMTU otherwise), and
// returns the struct's size (16 or 72): encoding without an allocation.
func PutSocketCAN(b []byte, f Frame, errFrame bool, order binary.ByteOrder) int {
	size := SocketCANMTU
	fd := f.FD && !errFrame
	if fd {
		size = SocketCANFDMTU
	}
	b = b[:size]
	clear(b)
	id := f.ID
	switch {
	case errFrame:
		id = f.ID&MaxExtID | ERRFlag
	case f.Extended:
		id |= EFFFlag
	}
	if f.Remote && !errFrame {
		id |= RTRFlag
	}
	order.PutUint32(b[0:4], id)
	n := min(int(f.Len), size-8)
	b[4] = byte(n)
	if fd {
		flags := byte(FDFlagFDF)
		if f.BRS {
			flags |= FDFlagBRS
		}
		if f.ESI {
			flags |= FDFlagESI
		}
		b[5] = flags
	}
	if !f.Remote || errFrame {
		copy(b[8:8+n], f.Data[:n])
	}
	return size
}

// DecodeSocketCAN parses a struct can_frame or canfd_frame whose can_id is
// in byte order order. It is CAN FD when CANFD_FDF is set or (older
// writers) when it is 72 bytes long. errFrame reports an error frame (class
// bits in f.ID). b may be cut short after the data bytes (a pcap snapshot).
// Errors start with "SocketCAN frame: ".
func DecodeSocketCAN(b []byte, order binary.ByteOrder) (f Frame, errFrame bool, err error) {
	if len(b) < 8 {
		return Frame{}, false, fmt.Errorf("SocketCAN frame of %d bytes is shorter than its 8-byte header", len(b))
	}
	id := order.Uint32(b[0:4])
	n := int(b[4])
	flags := b[5]
	fd := flags&FDFlagFDF != 0 || len(b) == SocketCANFDMTU
	switch {
	case id&ERRFlag != 0:
		errFrame = true
		f.ID = id & MaxExtID
	case id&EFFFlag != 0:
		f.Extended = true
		f.ID = id & MaxExtID
	default:
		if id&^RTRFlag > MaxStdID {
			return Frame{}, false, fmt.Errorf("SocketCAN frame: standard identifier %#x does not fit in 11 bits", id&^RTRFlag)
		}
		f.ID = id &^ RTRFlag
	}
	f.Remote = id&RTRFlag != 0 && !errFrame
	if fd && !errFrame {
		if f.Remote {
			return Frame{}, false, fmt.Errorf("SocketCAN frame: CAN FD frame with the RTR flag (id %#x)", f.ID)
		}
		f.FD = true
		f.BRS = flags&FDFlagBRS != 0
		f.ESI = flags&FDFlagESI != 0
		if !ValidFDLen(n) {
			return Frame{}, false, fmt.Errorf("SocketCAN frame: %d is not a valid CAN FD length (id %#x)", n, f.ID)
		}
	} else if n > MaxClassicLen {
		return Frame{}, false, fmt.Errorf("SocketCAN frame: classic frame with length %d (id %#x)", n, f.ID)
	}
	f.Len = uint8(n)
	if !f.Remote {
		if 8+n > len(b) {
			return Frame{}, false, fmt.Errorf("SocketCAN frame: length %d but only %d data bytes (id %#x)", n, len(b)-8, f.ID)
		}
		copy(f.Data[:], b[8:8+n])
	}
	return f, errFrame, nil
}
