package pouf

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// EncodeTime is the value of DIDTime: Unix seconds, 8 bytes big-endian.
func EncodeTime(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.Unix())) }

// ParseTime decodes a DIDTime value.
func ParseTime(b []byte) (time.Time, error) {
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("pouf: time of %d bytes, want 8", len(b))
	}
	s := binary.BigEndian.Uint64(b)
	if s > 1<<40 { // beyond year 36000: not a time a Primary attests
		return time.Time{}, fmt.Errorf("pouf: time %d s is out of range", s)
	}
	return time.Unix(int64(s), 0).UTC(), nil
}

// ValidNonce checks a DIDNonce value.
func ValidNonce(n []byte) error {
	if len(n) == 0 || len(n) > MaxNonce {
		return fmt.Errorf("pouf: nonce of %d bytes, want 1..%d", len(n), MaxNonce)
	}
	return nil
}

// ParseIdentifier decodes an ECU serial number, hardware number or VIN:
// printable ASCII without spaces, 1..limit bytes.
func ParseIdentifier(b []byte, limit int) (string, error) {
	if len(b) == 0 || len(b) > limit {
		return "", fmt.Errorf("pouf: identifier of %d bytes, want 1..%d", len(b), limit)
	}
	for _, c := range b {
		if c <= 0x20 || c >= 0x7F {
			return "", fmt.Errorf("pouf: identifier holds byte 0x%02X (printable ASCII only)", c)
		}
	}
	return string(b), nil
}

// EncodeVerification is the value of DIDVerification ("full" or "partial").
func EncodeVerification(mode string) ([]byte, error) {
	switch mode {
	case "full":
		return []byte{VerificationFull}, nil
	case "partial":
		return []byte{VerificationPartial}, nil
	}
	return nil, fmt.Errorf("pouf: verification %q, want full or partial", mode)
}

// ParseVerification decodes a DIDVerification value.
func ParseVerification(b []byte) (string, error) {
	if len(b) == 1 {
		switch b[0] {
		case VerificationFull:
			return "full", nil
		case VerificationPartial:
			return "partial", nil
		}
	}
	return "", fmt.Errorf("pouf: verification profile % X, want 01 (full) or 02 (partial)", b)
}

// EncodeSize is the value of DIDMaxImage and DIDMaxMetadata.
func EncodeSize(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// ParseSize decodes DIDMaxImage or DIDMaxMetadata.
func ParseSize(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("pouf: size of %d bytes, want 4", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// EncodeKey is the value of DIDSigningKey: the TUF key JSON.
func EncodeKey(k *metadata.Key) ([]byte, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxKeyJSON {
		return nil, fmt.Errorf("pouf: key JSON of %d bytes, at most %d", len(b), MaxKeyJSON)
	}
	return b, nil
}

// ParseKey decodes DIDSigningKey.
func ParseKey(b []byte) (*metadata.Key, error) {
	if len(b) == 0 || len(b) > MaxKeyJSON {
		return nil, fmt.Errorf("pouf: key JSON of %d bytes, want 1..%d", len(b), MaxKeyJSON)
	}
	var k metadata.Key
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("pouf: key JSON: %w", err)
	}
	if k.Type == "" || k.Scheme == "" || k.Value.PublicKey == "" {
		return nil, fmt.Errorf("pouf: key JSON without keytype, scheme or public key")
	}
	return &k, nil
}
