package uds

import (
	"encoding/binary"
	"fmt"
)

// FileTransferResponse is the positive response to RequestFileTransfer.
type FileTransferResponse struct {
	Mode FileMode
	// MaxBlockLength is maxNumberOfBlockLength: the longest TransferData
	// message (SID and block sequence counter included) the server takes.
	MaxBlockLength uint64
	DataFormat     byte
	// Size and CompressedSize are the file sizes of a ReadFile.
	Size, CompressedSize uint64
	// Position is the filePosition of a ResumeFile: where the client
	// continues.
	Position uint64
}

// Encode returns the RequestFileTransfer request message.
func (r FileRequest) Encode() []byte {
	b := []byte{byte(RequestFileTransfer), byte(r.Mode), 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(r.Path)))
	b = append(b, r.Path...)
	switch {
	case r.Mode.download():
		n := sizeLen(max(r.Size, r.CompressedSize))
		b = append(b, r.DataFormat, byte(n))
		b = appendUint(b, r.Size, n)
		b = appendUint(b, r.CompressedSize, n)
	case r.Mode == ReadFile:
		b = append(b, r.DataFormat)
	}
	return b
}

func sizeLen(v uint64) int {
	if v>>32 != 0 {
		return 8
	}
	return 4
}

func appendUint(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func readUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// parseFileRequest decodes a RequestFileTransfer request (SID included),
// refusing it with the NRC ISO 14229-1 gives.
func parseFileRequest(m []byte, maxPath int) (FileRequest, *NegativeResponse) {
	var r FileRequest
	if len(m) < 4 {
		return r, Refuse(IncorrectMessageLengthOrInvalidFormat, "%d bytes, want at least 4", len(m))
	}
	r.Mode = FileMode(m[1])
	if r.Mode < AddFile || r.Mode > ResumeFile {
		return r, Refuse(RequestOutOfRange, "modeOfOperation 0x%02X", m[1])
	}
	pl := int(binary.BigEndian.Uint16(m[2:]))
	rest := m[4:]
	if pl > len(rest) {
		return r, Refuse(IncorrectMessageLengthOrInvalidFormat, "filePathAndNameLength %d but %d bytes follow", pl, len(rest))
	}
	path := rest[:pl]
	rest = rest[pl:]
	want := 0
	switch {
	case r.Mode.download():
		if len(rest) < 2 {
			return r, Refuse(IncorrectMessageLengthOrInvalidFormat, "%s without dataFormatIdentifier and fileSizeParameterLength", r.Mode)
		}
		r.DataFormat = rest[0]
		n := int(rest[1])
		if n < 1 || n > 8 {
			return r, Refuse(RequestOutOfRange, "fileSizeParameterLength %d, want 1..8", n)
		}
		want = 2 + 2*n
		if len(rest) == want {
			r.Size = readUint(rest[2 : 2+n])
			r.CompressedSize = readUint(rest[2+n:])
		}
	case r.Mode == ReadFile:
		want = 1
		if len(rest) == 1 {
			r.DataFormat = rest[0]
		}
	}
	if len(rest) != want {
		return r, Refuse(IncorrectMessageLengthOrInvalidFormat, "%s request has %d bytes after the path, want %d", r.Mode, len(rest), want)
	}
	if pl == 0 || pl > maxPath {
		return r, Refuse(RequestOutOfRange, "file path of %d bytes, want 1..%d", pl, maxPath)
	}
	for _, c := range path {
		if c <= 0x20 || c >= 0x7F {
			return r, Refuse(RequestOutOfRange, "file path holds byte 0x%02X (printable ASCII only)", c)
		}
	}
	r.Path = string(path)
	if r.DataFormat != 0 {
		return r, Refuse(RequestOutOfRange, "dataFormatIdentifier 0x%02X (only 0x00: no compression, no encryption)", r.DataFormat)
	}
	if r.Mode.download() && r.CompressedSize != r.Size {
		return r, Refuse(RequestOutOfRange, "fileSizeCompressed %d differs from fileSizeUnCompressed %d without compression", r.CompressedSize, r.Size)
	}
	return r, nil
}

// encode returns the positive response message.
func (r FileTransferResponse) encode() []byte {
	b := []byte{byte(RequestFileTransfer) + PositiveOffset, byte(r.Mode)}
	if r.Mode == DeleteFile {
		return b
	}
	n := 2
	if r.MaxBlockLength > 0xFFFF {
		n = 4
	}
	b = append(b, byte(n))
	b = appendUint(b, r.MaxBlockLength, n)
	b = append(b, r.DataFormat)
	switch r.Mode {
	case ResumeFile:
		b = appendUint(b, r.Position, 8)
	case ReadFile:
		n := sizeLen(max(r.Size, r.CompressedSize))
		b = append(b, 0, byte(n))
		b = appendUint(b, r.Size, n)
		b = appendUint(b, r.CompressedSize, n)
	}
	return b
}

// ParseFileTransferResponse decodes the positive response to a
// RequestFileTransfer with mode want.
func ParseFileTransferResponse(m []byte, want FileMode) (FileTransferResponse, error) {
	var r FileTransferResponse
	bad := func(format string, args ...any) (FileTransferResponse, error) {
		return r, protoErr(RequestFileTransfer, format, args...)
	}
	if len(m) < 2 || m[0] != byte(RequestFileTransfer)+PositiveOffset {
		return bad("not a positive response: % X", m)
	}
	r.Mode = FileMode(m[1])
	if r.Mode != want {
		return bad("modeOfOperation %s, requested %s", r.Mode, want)
	}
	rest := m[2:]
	if r.Mode == DeleteFile {
		if len(rest) != 0 {
			return bad("%d extra bytes", len(rest))
		}
		return r, nil
	}
	if len(rest) < 1 {
		return bad("no lengthFormatIdentifier")
	}
	n := int(rest[0])
	if n < 1 || n > 8 || len(rest) < 2+n {
		return bad("lengthFormatIdentifier %d with %d bytes", n, len(rest))
	}
	r.MaxBlockLength = readUint(rest[1 : 1+n])
	r.DataFormat = rest[1+n]
	rest = rest[2+n:]
	switch r.Mode {
	case ResumeFile:
		if len(rest) != 8 {
			return bad("filePosition of %d bytes, want 8", len(rest))
		}
		r.Position = readUint(rest)
	case ReadFile:
		if len(rest) < 2 {
			return bad("no fileSizeOrDirInfoParameterLength")
		}
		k := int(binary.BigEndian.Uint16(rest))
		if k < 1 || k > 8 || len(rest) != 2+2*k {
			return bad("fileSizeOrDirInfoParameterLength %d with %d bytes", k, len(rest))
		}
		r.Size = readUint(rest[2 : 2+k])
		r.CompressedSize = readUint(rest[2+k:])
	default:
		if len(rest) != 0 {
			return bad("%d extra bytes", len(rest))
		}
	}
	if r.MaxBlockLength < 3 {
		return bad("maxNumberOfBlockLength %d leaves no room for data", r.MaxBlockLength)
	}
	return r, nil
}

func (r FileRequest) String() string {
	return fmt.Sprintf("%s %q (%d bytes)", r.Mode, r.Path, r.Size)
}
