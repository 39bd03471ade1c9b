// Package akdialect is aktualizr's dialect of Uptane metadata and version
// manifests, the form its Secondary (and OTA Connect's backend) speaks:
// `_type` capitalised ("Root", "Targets", "Snapshot", "Timestamp"),
// signatures carrying a "method" and a base64 "sig", the Timestamp naming
// the Snapshot's hashes and length, image targets carrying
// custom.hardwareIds at the top of custom, and a signed ECU manifest of its
// own shape (installed_image.filepath/fileinfo, attacks_detected a string,
// no nonce). The signed bytes are jsoncpp's compact form of the "signed"
// object (sorted keys, no whitespace), which Canonical reproduces.
//
// A harness repository signs the dialect beside its TUF-format metadata
// with the same keys (Convert), so one backend serves both kinds of ECU;
// docs/aktualizr-ip.md says what the dialect changes and what it cannot
// carry.
package akdialect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// Canonical returns what aktualizr signs and verifies for a JSON value
// (Utils::jsonToCanonicalStr: jsoncpp's StreamWriter with no indentation):
// object keys sorted bytewise, no whitespace, integers as written, strings
// with `"` `\` and control characters escaped and everything outside ASCII
// as \uXXXX (UTF-16). v is what encoding/json decodes with UseNumber.
func Canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := canon(&b, v, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// CanonicalJSON decodes raw JSON and returns Canonical of it.
func CanonicalJSON(raw []byte) ([]byte, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, err
	}
	return Canonical(v)
}

func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("akdialect: JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("akdialect: JSON: trailing data")
	}
	return v, nil
}

const maxDepth = 32

func canon(b *bytes.Buffer, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("akdialect: JSON nested deeper than %d", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err != nil {
			if _, err := strconv.ParseUint(string(x), 10, 64); err != nil {
				return fmt.Errorf("akdialect: number %s is not an integer (aktualizr signs integers only)", x)
			}
		}
		b.WriteString(string(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case string:
		quote(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := canon(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			quote(b, k)
			b.WriteByte(':')
			if err := canon(b, x[k], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("akdialect: cannot canonicalise %T", v)
	}
	return nil
}

func quote(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4&0xf])
			b.WriteByte(hex[r&0xf])
		case r < 0x80:
			b.WriteRune(r)
		default:
			for _, u := range utf16(r) {
				b.WriteString(`\u`)
				b.WriteByte(hex[u>>12&0xf])
				b.WriteByte(hex[u>>8&0xf])
				b.WriteByte(hex[u>>4&0xf])
				b.WriteByte(hex[u&0xf])
			}
		}
	}
	b.WriteByte('"')
}

func utf16(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xd800 + (r >> 10)), uint16(0xdc00 + (r & 0x3ff))}
}
