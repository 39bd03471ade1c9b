package aktualizrip

import (
	"errors"
	"fmt"
	"io"
)

// MaxMessage is the default cap on one encoded message. aktualizr's largest
// message is putMetaReq2 (six metadata files); image data goes in chunks.
const MaxMessage = 4 << 20

// Encode returns the DER encoding of m: the EXPLICIT context tag of its
// alternative around its SEQUENCE. Nothing frames it: the peer decodes
// until it has one whole message.
func Encode(m Message) []byte {
	var body writer
	body.wrap(tagSequence, m.encode)
	out := appendHeader(make([]byte, 0, len(body.b)+6), 0xa0|byte(m.Kind()), len(body.b))
	return append(out, body.b...)
}

// Decode decodes exactly one message from b (at most max bytes, MaxMessage
// when max <= 0). Byte strings in the result alias b. Errors are
// *DecodeError, naming the element and the offset.
func Decode(b []byte, max int) (Message, error) {
	if max <= 0 {
		max = MaxMessage
	}
	if len(b) > max {
		return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("%d bytes, more than the limit of %d", len(b), max)}
	}
	tag, n, hdr, err := parseHeader(b)
	if err != nil {
		return nil, &DecodeError{Where: "message", Reason: err.Error()}
	}
	if hdr+n != len(b) {
		if hdr+n > len(b) {
			return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("truncated: length %d, %d bytes present", n, len(b)-hdr)}
		}
		return nil, &DecodeError{Where: "message", Offset: hdr + n, Reason: fmt.Sprintf("%d bytes after the message", len(b)-hdr-n)}
	}
	if tag&0xe0 != 0xa0 {
		return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("identifier %#02x is not a constructed context tag (AKIpUptaneMes alternative)", tag)}
	}
	k := Kind(tag & 0x1f)
	m := newMessage(k)
	if m == nil {
		return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("alternative %s is not supported", k)}
	}
	outer := &reader{b: b[hdr:], off: hdr, where: k.String()}
	body, err := outer.seq("")
	if err != nil {
		return nil, err
	}
	body.where = k.String()
	if outer.more() {
		return nil, outer.fail(outer.pos, "more than one element inside the explicit tag")
	}
	if err := m.decode(body); err != nil {
		return nil, err
	}
	if err := body.end(); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadRaw reads one whole encoded message from r: the identifier and length
// first, then exactly the announced contents. A length above max (MaxMessage
// when max <= 0) is refused before anything is allocated. io.EOF means the
// peer closed cleanly between messages.
func ReadRaw(r io.Reader, max int) ([]byte, error) {
	if max <= 0 {
		max = MaxMessage
	}
	var h [6]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("aktualizr-ip: read message header: %w", err)
	}
	if h[0]&0xe0 != 0xa0 {
		return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("identifier %#02x is not a constructed context tag (AKIpUptaneMes alternative)", h[0])}
	}
	hl := 2
	if h[1] > 0x80 && h[1] <= 0x84 {
		k := int(h[1] & 0x7f)
		if _, err := io.ReadFull(r, h[2:2+k]); err != nil {
			return nil, fmt.Errorf("aktualizr-ip: read message length: %w", noEOF(err))
		}
		hl += k
	}
	_, n, hdr, err := parseHeader(h[:hl])
	if err != nil {
		return nil, &DecodeError{Where: "message", Reason: err.Error()}
	}
	if hdr+n > max {
		return nil, &DecodeError{Where: "message", Reason: fmt.Sprintf("length %d, more than the limit of %d", hdr+n, max)}
	}
	buf := make([]byte, hdr+n)
	copy(buf, h[:hdr])
	if _, err := io.ReadFull(r, buf[hdr:]); err != nil {
		return nil, fmt.Errorf("aktualizr-ip: read %s message of %d bytes: %w", Kind(h[0]&0x1f), hdr+n, noEOF(err))
	}
	return buf, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadMessage reads and decodes one message from r.
func ReadMessage(r io.Reader, max int) (Message, error) {
	b, err := ReadRaw(r, max)
	if err != nil {
		return nil, err
	}
	return Decode(b, max)
}
