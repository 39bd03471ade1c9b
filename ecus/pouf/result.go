package pouf

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/uptane-hil/uptane-hil/uptane/check"
)

// Status is the first byte of a routine's status record.
type Status byte

// Routine outcomes.
const (
	Passed Status = 0x00 // the routine did its work; Data follows
	Failed Status = 0x01 // a check failed or the work could not be done
)

// Limits of a routine result.
const (
	MaxResultData = 256
	MaxCheckID    = 64
	MaxAttack     = 32
	MaxDetail     = 1024
)

// Result is the routineStatusRecord of every routine of this POUF:
//
//	passed: 00 <data…>
//	failed: 01 <len u8> <check ID> <len u8> <attack> <len u16 BE> <detail UTF-8>
//
// A failure names the check (uptane/check ID, e.g. check.TimestampExpiry)
// and the attack it stopped, so the Primary can report it; both are empty
// when the failure is not a check (e.g. a flash error).
type Result struct {
	Status Status
	Data   []byte // Passed: routine-specific (verify metadata: 1 byte, 0x01 = new image)
	Check  check.ID
	Attack check.Attack
	Detail string
}

// FailedResult returns the result for err, naming its check when it is
// (or wraps) a *check.Error.
func FailedResult(err error) Result {
	detail := strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7F || c == utf8.RuneError {
			return ' '
		}
		return c
	}, err.Error())
	r := Result{Status: Failed, Detail: detail}
	if ce, ok := check.As(err); ok {
		r.Check, r.Attack = ce.Check, ce.Attack
	}
	if len(r.Detail) > MaxDetail {
		r.Detail = r.Detail[:MaxDetail]
	}
	for !utf8.ValidString(r.Detail) {
		r.Detail = r.Detail[:len(r.Detail)-1]
	}
	return r
}

// Encode returns the status record. It fails on a result ParseResult
// would refuse.
func (r Result) Encode() ([]byte, error) {
	if err := r.valid(); err != nil {
		return nil, err
	}
	if r.Status == Passed {
		return append([]byte{byte(Passed)}, r.Data...), nil
	}
	name := r.Check.String()
	b := []byte{byte(Failed), byte(len(name))}
	b = append(b, name...)
	b = append(b, byte(len(r.Attack)))
	b = append(b, r.Attack...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Detail)))
	return append(b, r.Detail...), nil
}

func (r Result) valid() error {
	switch r.Status {
	case Passed:
		if len(r.Data) > MaxResultData {
			return fmt.Errorf("pouf: routine result: %d bytes of data, at most %d", len(r.Data), MaxResultData)
		}
		if r.Check != 0 || r.Attack != "" || r.Detail != "" {
			return fmt.Errorf("pouf: routine result: a passed result names no check")
		}
	case Failed:
		if len(r.Data) != 0 {
			return fmt.Errorf("pouf: routine result: a failed result carries no data")
		}
		if r.Check != 0 && !r.Check.Valid() {
			return fmt.Errorf("pouf: routine result: no check has ID %d", uint16(r.Check))
		}
		if err := token(r.Check.String(), MaxCheckID, "check ID", "._"); err != nil {
			return err
		}
		if err := token(string(r.Attack), MaxAttack, "attack", "-"); err != nil {
			return err
		}
		if (r.Check == 0) != (r.Attack == "") {
			return fmt.Errorf("pouf: routine result: a check ID and an attack go together")
		}
		if len(r.Detail) > MaxDetail || !utf8.ValidString(r.Detail) {
			return fmt.Errorf("pouf: routine result: detail must be UTF-8 of at most %d bytes", MaxDetail)
		}
		for _, c := range r.Detail {
			if c < 0x20 || c == 0x7F {
				return fmt.Errorf("pouf: routine result: control character %U in detail", c)
			}
		}
	default:
		return fmt.Errorf("pouf: routine result: status 0x%02X", byte(r.Status))
	}
	return nil
}

// token checks a lowercase identifier: a-z, 0-9 and the extra bytes.
func token(s string, maxLen int, what, extra string) error {
	if len(s) > maxLen {
		return fmt.Errorf("pouf: routine result: %s of %d bytes, at most %d", what, len(s), maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || containsByte(extra, c)) {
			return fmt.Errorf("pouf: routine result: byte 0x%02X in %s", c, what)
		}
	}
	return nil
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// ParseResult decodes a routine status record strictly.
func ParseResult(b []byte) (Result, error) {
	var r Result
	if len(b) == 0 {
		return r, fmt.Errorf("pouf: routine result: empty")
	}
	r.Status = Status(b[0])
	rest := b[1:]
	switch r.Status {
	case Passed:
		if len(rest) > 0 {
			r.Data = append([]byte(nil), rest...)
		}
	case Failed:
		take := func(n int) ([]byte, error) {
			if len(rest) < n {
				return nil, fmt.Errorf("pouf: routine result: truncated")
			}
			v := rest[:n]
			rest = rest[n:]
			return v, nil
		}
		n, err := take(1)
		if err != nil {
			return r, err
		}
		id, err := take(int(n[0]))
		if err != nil {
			return r, err
		}
		if n, err = take(1); err != nil {
			return r, err
		}
		att, err := take(int(n[0]))
		if err != nil {
			return r, err
		}
		if n, err = take(2); err != nil {
			return r, err
		}
		detail, err := take(int(binary.BigEndian.Uint16(n)))
		if err != nil {
			return r, err
		}
		if len(rest) != 0 {
			return r, fmt.Errorf("pouf: routine result: %d bytes after the detail", len(rest))
		}
		if len(id) > 0 {
			// The one place a check's name from the bus becomes an ID.
			if err := token(string(id), MaxCheckID, "check ID", "._"); err != nil {
				return Result{}, err
			}
			if r.Check, err = check.ParseID(string(id)); err != nil {
				return Result{}, fmt.Errorf("pouf: routine result: %w", err)
			}
		}
		r.Attack, r.Detail = check.Attack(att), string(detail)
	}
	if err := r.valid(); err != nil {
		return Result{}, err
	}
	return r, nil
}
