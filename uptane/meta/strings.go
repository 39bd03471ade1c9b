package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CheckStrings returns an error naming the first string of a JSON document
// (a key or a value) that is not UTF-8 in Unicode Normalization Form C: the
// Standard compares strings (ECU and hardware identifiers, image and role
// names) byte for byte, so "all strings SHALL be encoded in the Unicode
// Format for Network Interchange (RFC 5198), including normalization into
// NFC" ({#meta_structures}). Malformed JSON is left to the parser (nil).
func CheckStrings(doc []byte) error {
	if !utf8.Valid(doc) {
		i := 0
		for i < len(doc) {
			r, n := utf8.DecodeRune(doc[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("not UTF-8: invalid byte 0x%02x at offset %d (strings must be UTF-8 in NFC, RFC 5198)", doc[i], i)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // not JSON: the parser says what is wrong
		}
		if s, ok := tok.(string); ok && !norm.NFC.IsNormalString(s) {
			return fmt.Errorf("string %+q is not in Unicode Normalization Form C (NFC is %+q; RFC 5198)", s, norm.NFC.String(s))
		}
	}
}
