package aktualizrip

import (
	"fmt"
)

// Universal tags used by the message set (X.690).
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagUTF8String  = 0x0c
	tagSequence    = 0x30 // SEQUENCE / SEQUENCE OF, constructed
)

// maxNesting bounds how deep the decoder descends (the deepest message,
// putMetaReq2, is 5 levels).
const maxNesting = 8

// DecodeError is a message that is not a well-formed DER encoding of the
// IP Secondary message set: what was wrong and at which byte offset of the
// message.
type DecodeError struct {
	Where  string // the element, e.g. "putMetaReq2.imageRepo[1].json"
	Offset int    // byte offset in the message
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("aktualizr-ip: decode %s at byte %d: %s", e.Where, e.Offset, e.Reason)
}

// tlv is one decoded element: its identifier byte and its contents.
type tlv struct {
	tag     byte
	off     int // offset of the identifier byte in the message
	content []byte
	coff    int // offset of the contents
}

// parseHeader reads the identifier and length octets at b[0:]. Only
// single-byte identifiers (tag numbers below 31) exist in the message set,
// lengths are definite (DER) and at most 4 length bytes long. It returns the
// tag, the content length and the header length.
func parseHeader(b []byte) (tag byte, n int, hdr int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, errShort
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, 0, 0, fmt.Errorf("multi-byte tag number (identifier %#02x) is not in the message set", tag)
	}
	l := b[1]
	if l < 0x80 {
		return tag, int(l), 2, nil
	}
	if l == 0x80 {
		return 0, 0, 0, fmt.Errorf("indefinite length is not DER")
	}
	k := int(l & 0x7f)
	if k > 4 {
		return 0, 0, 0, fmt.Errorf("length of %d bytes is too long", k)
	}
	if len(b) < 2+k {
		return 0, 0, 0, errShort
	}
	if b[2] == 0 {
		return 0, 0, 0, fmt.Errorf("length with a leading zero byte is not DER")
	}
	for _, c := range b[2 : 2+k] {
		n = n<<8 | int(c)
	}
	if n < 0x80 {
		return 0, 0, 0, fmt.Errorf("long-form length %d is not DER", n)
	}
	return tag, n, 2 + k, nil
}

var errShort = fmt.Errorf("truncated")

// reader walks the elements of one constructed encoding.
type reader struct {
	b     []byte
	off   int // offset of b[0] in the message
	pos   int
	where string
	depth int
}

func (r *reader) fail(at int, format string, args ...any) error {
	return &DecodeError{Where: r.where, Offset: r.off + at, Reason: fmt.Sprintf(format, args...)}
}

func (r *reader) more() bool { return r.pos < len(r.b) }

// next reads the next element.
func (r *reader) next(what string) (tlv, error) {
	if !r.more() {
		return tlv{}, &DecodeError{Where: r.where + "." + what, Offset: r.off + r.pos, Reason: "missing"}
	}
	tag, n, hdr, err := parseHeader(r.b[r.pos:])
	if err != nil {
		return tlv{}, &DecodeError{Where: r.where + "." + what, Offset: r.off + r.pos, Reason: err.Error()}
	}
	if n > len(r.b)-r.pos-hdr {
		return tlv{}, &DecodeError{Where: r.where + "." + what, Offset: r.off + r.pos,
			Reason: fmt.Sprintf("length %d runs past the end of its enclosing element (%d bytes left)", n, len(r.b)-r.pos-hdr)}
	}
	t := tlv{tag: tag, off: r.off + r.pos, content: r.b[r.pos+hdr : r.pos+hdr+n], coff: r.off + r.pos + hdr}
	r.pos += hdr + n
	return t, nil
}

// expect reads the next element and checks its tag.
func (r *reader) expect(what string, tag byte) (tlv, error) {
	t, err := r.next(what)
	if err != nil {
		return t, err
	}
	if t.tag != tag {
		return t, &DecodeError{Where: r.where + "." + what, Offset: t.off, Reason: fmt.Sprintf("tag %#02x, want %#02x", t.tag, tag)}
	}
	return t, nil
}

// sub descends into a constructed element.
func (r *reader) sub(t tlv, what string) (*reader, error) {
	if r.depth+1 > maxNesting {
		return nil, &DecodeError{Where: r.where + "." + what, Offset: t.off, Reason: "nested too deep"}
	}
	return &reader{b: t.content, off: t.coff, where: r.where + "." + what, depth: r.depth + 1}, nil
}

// seq reads a SEQUENCE and returns a reader over its elements.
func (r *reader) seq(what string) (*reader, error) {
	t, err := r.expect(what, tagSequence)
	if err != nil {
		return nil, err
	}
	return r.sub(t, what)
}

// bytes reads an OCTET STRING. The contents alias the message.
func (r *reader) bytes(what string) ([]byte, error) {
	t, err := r.expect(what, tagOctetString)
	return t.content, err
}

// utf8 reads a UTF8String.
func (r *reader) utf8(what string) (string, error) {
	t, err := r.expect(what, tagUTF8String)
	return string(t.content), err
}

// integer reads an INTEGER or ENUMERATED (by tag) that fits in 32 bits.
func (r *reader) integer(what string, tag byte) (int64, error) {
	t, err := r.expect(what, tag)
	if err != nil {
		return 0, err
	}
	c := t.content
	switch {
	case len(c) == 0:
		return 0, &DecodeError{Where: r.where + "." + what, Offset: t.off, Reason: "empty integer"}
	case len(c) > 4:
		return 0, &DecodeError{Where: r.where + "." + what, Offset: t.off, Reason: fmt.Sprintf("integer of %d bytes does not fit 32 bits", len(c))}
	case len(c) > 1 && (c[0] == 0 && c[1]&0x80 == 0 || c[0] == 0xff && c[1]&0x80 != 0):
		return 0, &DecodeError{Where: r.where + "." + what, Offset: t.off, Reason: "integer is not minimally encoded (not DER)"}
	}
	v := int64(int8(c[0]))
	for _, b := range c[1:] {
		v = v<<8 | int64(b)
	}
	return v, nil
}

// end skips extension additions (the "..." of every type: unknown trailing
// elements, each well-formed) and checks nothing is left.
func (r *reader) end() error {
	for r.more() {
		if _, err := r.next("extension"); err != nil {
			return err
		}
	}
	return nil
}

// writer builds a DER encoding.
type writer struct{ b []byte }

func appendHeader(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 1<<8:
		return append(b, 0x81, byte(n))
	case n < 1<<16:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (w *writer) prim(tag byte, content []byte) {
	w.b = appendHeader(w.b, tag, len(content))
	w.b = append(w.b, content...)
}

func (w *writer) bytes(b []byte)  { w.prim(tagOctetString, b) }
func (w *writer) utf8(s string)   { w.prim(tagUTF8String, []byte(s)) }
func (w *writer) enum(v int64)    { w.prim(tagEnumerated, intBytes(v)) }
func (w *writer) integer(v int64) { w.prim(tagInteger, intBytes(v)) }
func (w *writer) raw(b []byte)    { w.b = append(w.b, b...) }
func (w *writer) wrap(tag byte, f func(*writer)) {
	var in writer
	f(&in)
	w.prim(tag, in.b)
}

// intBytes is the minimal two's complement encoding of v.
func intBytes(v int64) []byte {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}
