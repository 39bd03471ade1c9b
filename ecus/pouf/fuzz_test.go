package pouf_test

import (
	"bytes"
	"testing"

	"github.com/uptane-hil/uptane-hil/ecus/pouf"
)

// FuzzParsePath: any string either fails or parses to a path that prints
// back to itself and names no parent directory.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"meta/director/5.targets.json", "meta/image/timestamp.json", "image/a/b.bin", "image/../x", "meta/director/1.%41.json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := pouf.ParsePath(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q parses to %+v which prints %q", s, p, p.String())
		}
		for _, part := range bytes.Split([]byte(s), []byte("/")) {
			if string(part) == ".." || string(part) == "." || len(part) == 0 {
				t.Fatalf("%q has a %q element", s, part)
			}
		}
	})
}

// FuzzParseResult: any record either fails or parses to a result that
// encodes back to the same bytes.
func FuzzParseResult(f *testing.F) {
	f.Add([]byte{0x00, 0x01})
	f.Add([]byte{0x01, 1, 'a', 1, 'b', 0, 1, 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := pouf.ParseResult(b)
		if err != nil {
			return
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("% X parsed but does not encode: %v", b, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("% X encodes back as % X", b, enc)
		}
	})
}
