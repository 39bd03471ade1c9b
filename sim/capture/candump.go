package capture

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// The can-utils log format (candump -L, canplayer, log2asc) has one frame a
// line:
//
//	(1700000000.123456) vcan0 123#DEADBEEF
//
// a timestamp in seconds with exactly six fraction digits, the interface
// name, and the frame: a 3-digit (standard) or 8-digit (extended)
// hexadecimal identifier, then
//
//	#<data>          classic data frame, 0..8 bytes as hex pairs
//	#<data>_<dlc>    the same with a raw DLC 9..F for 8 bytes (accepted, dropped)
//	#R, #R<len>      remote frame, with an optional length 0..8
//	##<flags><data>  CAN FD frame: one hex digit of flags (1 BRS, 2 ESI,
//	                 4 FDF) and 0..64 bytes (a valid FD length)
//
// Data bytes may be separated by '.', as cansend accepts. An 8-digit
// identifier with CAN_ERR_FLAG (0x20000000) is an error frame.

// ParseError locates a syntax error in a candump log.
type ParseError struct {
	Line, Column int // 1-based
	Msg          string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("capture: candump log line %d column %d: %s", e.Line, e.Column, e.Msg)
}

// maxLine bounds a log line (the longest valid line is well under 200
// bytes).
const maxLine = 4096

// ParseCandumpLog reads a whole log. Blank lines are skipped; anything else
// that is not a valid line stops the parse with a *ParseError.
func ParseCandumpLog(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	var out []Record
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		rec, err := parseLine(text, line)
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return out, &ParseError{Line: line + 1, Column: 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return out, fmt.Errorf("capture: candump log: %w", err)
	}
	return out, nil
}

// ParseCandumpLine parses one log line.
func ParseCandumpLine(s string) (Record, error) { return parseLine(s, 1) }

type lineParser struct {
	s    string
	pos  int
	line int
}

func (p *lineParser) fail(col int, format string, args ...any) error {
	return &ParseError{Line: p.line, Column: col + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *lineParser) expect(c byte, what string) error {
	if p.pos >= len(p.s) {
		return p.fail(p.pos, "line ends where %s %q was expected", what, c)
	}
	if p.s[p.pos] != c {
		return p.fail(p.pos, "%q where %s %q was expected", p.s[p.pos], what, c)
	}
	p.pos++
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func parseLine(s string, line int) (Record, error) {
	p := &lineParser{s: s, line: line}
	var r Record
	// timestamp
	if err := p.expect('(', "timestamp opening"); err != nil {
		return r, err
	}
	start := p.pos
	var sec int64
	for p.pos < len(s) && isDigit(s[p.pos]) {
		if p.pos-start >= 12 {
			return r, p.fail(p.pos, "timestamp seconds too long")
		}
		sec = sec*10 + int64(s[p.pos]-'0')
		p.pos++
	}
	if p.pos == start {
		return r, p.fail(p.pos, "timestamp seconds missing")
	}
	if err := p.expect('.', "timestamp"); err != nil {
		return r, err
	}
	start = p.pos
	var usec int64
	for p.pos < len(s) && isDigit(s[p.pos]) {
		usec = usec*10 + int64(s[p.pos]-'0')
		p.pos++
		if p.pos-start > 6 {
			return r, p.fail(p.pos-1, "timestamp has more than 6 fraction digits")
		}
	}
	if p.pos-start != 6 {
		return r, p.fail(start, "timestamp needs exactly 6 fraction digits, got %d", p.pos-start)
	}
	if err := p.expect(')', "timestamp closing"); err != nil {
		return r, err
	}
	r.Time = time.Unix(sec, usec*1000).UTC()
	if err := p.expect(' ', "separator"); err != nil {
		return r, err
	}
	// interface
	start = p.pos
	for p.pos < len(s) && s[p.pos] != ' ' {
		c := s[p.pos]
		if c <= ' ' || c >= 0x7f {
			return r, p.fail(p.pos, "byte %#x in interface name", c)
		}
		p.pos++
	}
	if p.pos == start {
		return r, p.fail(p.pos, "interface name missing")
	}
	if p.pos-start > 15 {
		return r, p.fail(start, "interface name %q longer than 15 bytes", s[start:p.pos])
	}
	r.Iface = s[start:p.pos]
	if err := p.expect(' ', "separator"); err != nil {
		return r, err
	}
	if err := p.frame(&r); err != nil {
		return r, err
	}
	if p.pos != len(s) {
		return r, p.fail(p.pos, "unexpected %q after the frame", s[p.pos:])
	}
	return r, nil
}

func (p *lineParser) frame(r *Record) error {
	s := p.s
	start := p.pos
	var id uint32
	for p.pos < len(s) && s[p.pos] != '#' {
		v, ok := hexVal(s[p.pos])
		if !ok {
			return p.fail(p.pos, "%q in CAN identifier", s[p.pos])
		}
		if p.pos-start >= 8 {
			return p.fail(p.pos, "CAN identifier longer than 8 hex digits")
		}
		id = id<<4 | uint32(v)
		p.pos++
	}
	f := &r.Frame
	switch p.pos - start {
	case 3:
		if id > can.MaxStdID {
			return p.fail(start, "standard identifier %03X does not fit in 11 bits", id)
		}
		f.ID = id
	case 8:
		switch {
		case id&^(can.ERRFlag|can.MaxExtID) != 0:
			return p.fail(start, "identifier %08X has flags beyond CAN_ERR_FLAG", id)
		case id&can.ERRFlag != 0:
			r.Error = true
			f.ID = id & can.MaxExtID
		default:
			f.ID, f.Extended = id, true
		}
	case 0:
		return p.fail(start, "CAN identifier missing")
	default:
		return p.fail(start, "CAN identifier needs 3 (standard) or 8 (extended) hex digits, got %d", p.pos-start)
	}
	if err := p.expect('#', "frame separator"); err != nil {
		return err
	}
	if p.pos < len(s) && s[p.pos] == '#' {
		if r.Error {
			return p.fail(p.pos, "an error frame cannot be CAN FD")
		}
		p.pos++
		if p.pos >= len(s) {
			return p.fail(p.pos, "line ends where the CAN FD flags digit was expected")
		}
		flags, ok := hexVal(s[p.pos])
		if !ok {
			return p.fail(p.pos, "%q is not a CAN FD flags digit", s[p.pos])
		}
		if flags&^(can.FDFlagBRS|can.FDFlagESI|can.FDFlagFDF) != 0 {
			return p.fail(p.pos, "CAN FD flags %X set a reserved bit", flags)
		}
		p.pos++
		f.FD, f.BRS, f.ESI = true, flags&can.FDFlagBRS != 0, flags&can.FDFlagESI != 0
		dstart := p.pos
		n, err := p.data(f, can.MaxFDLen)
		if err != nil {
			return err
		}
		if !can.ValidFDLen(n) {
			return p.fail(dstart, "%d data bytes is not a valid CAN FD length", n)
		}
		f.Len = uint8(n)
		return nil
	}
	if p.pos < len(s) && (s[p.pos] == 'R' || s[p.pos] == 'r') {
		if r.Error {
			return p.fail(p.pos, "an error frame cannot be a remote frame")
		}
		p.pos++
		f.Remote = true
		if p.pos < len(s) && isDigit(s[p.pos]) {
			if s[p.pos] > '8' {
				return p.fail(p.pos, "remote frame length %c is more than 8", s[p.pos])
			}
			f.Len = s[p.pos] - '0'
			p.pos++
		}
		return p.dlcSuffix(f)
	}
	n, err := p.data(f, can.MaxClassicLen)
	if err != nil {
		return err
	}
	f.Len = uint8(n)
	return p.dlcSuffix(f)
}

// data reads hex byte pairs, optionally separated by '.', up to max bytes.
func (p *lineParser) data(f *can.Frame, max int) (int, error) {
	s := p.s
	n := 0
	for p.pos < len(s) && s[p.pos] != '_' && s[p.pos] != ' ' {
		if s[p.pos] == '.' {
			if n == 0 || s[p.pos-1] == '.' {
				return n, p.fail(p.pos, "'.' must separate two data bytes")
			}
			p.pos++
			if p.pos >= len(s) {
				return n, p.fail(p.pos-1, "'.' must separate two data bytes")
			}
			continue
		}
		hi, ok := hexVal(s[p.pos])
		if !ok {
			return n, p.fail(p.pos, "%q in frame data", s[p.pos])
		}
		if p.pos+1 >= len(s) {
			return n, p.fail(p.pos, "data byte with a single hex digit")
		}
		lo, ok := hexVal(s[p.pos+1])
		if !ok {
			return n, p.fail(p.pos+1, "%q in frame data", s[p.pos+1])
		}
		if n >= max {
			return n, p.fail(p.pos, "more than %d data bytes", max)
		}
		f.Data[n] = hi<<4 | lo
		n++
		p.pos += 2
	}
	return n, nil
}

// dlcSuffix accepts the optional _<dlc> raw DLC of a classic 8-byte frame.
func (p *lineParser) dlcSuffix(f *can.Frame) error {
	if p.pos >= len(p.s) || f.FD {
		return nil
	}
	if p.s[p.pos] != '_' {
		return nil
	}
	if f.Len != 8 {
		return p.fail(p.pos, "a raw DLC suffix needs a length of 8, not %d", f.Len)
	}
	p.pos++
	if p.pos >= len(p.s) {
		return p.fail(p.pos, "line ends where the raw DLC digit was expected")
	}
	v, ok := hexVal(p.s[p.pos])
	if !ok || v < 9 {
		return p.fail(p.pos, "raw DLC %q is not 9..F", p.s[p.pos])
	}
	p.pos++
	return nil
}

// FormatCandump formats r as a candump -L line (without the newline).
// Timestamps are truncated to microseconds.
func FormatCandump(r Record) string { return string(AppendCandump(nil, r)) }

// AppendCandump appends the candump -L line of r (without the newline) to
// b: FormatCandump without fmt, for the per-frame path of a capture (a
// run's log has a line per frame on the bus).
func AppendCandump(b []byte, r Record) []byte {
	t := r.Time
	iface := r.Iface
	if iface == "" {
		iface = "can0"
	}
	b = append(b, '(')
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, '.')
	b = appendPadded(b, uint64(t.Nanosecond()/1000), 6)
	b = append(b, ") "...)
	b = append(b, iface...)
	b = append(b, ' ')
	f := r.Frame
	if r.Error {
		b = appendHexID(b, uint64(f.ID&can.MaxExtID|can.ERRFlag), 8)
		b = append(b, '#')
		return appendHexUpper(b, f.Data[:min(int(f.Len), can.MaxClassicLen)])
	}
	// can.Frame.String
	if f.Extended {
		b = appendHexID(b, uint64(f.ID), 8)
	} else {
		b = appendHexID(b, uint64(f.ID), 3)
	}
	switch {
	case f.FD:
		var flags uint64
		if f.BRS {
			flags |= 1
		}
		if f.ESI {
			flags |= 2
		}
		b = append(b, "##"...)
		b = strconv.AppendUint(b, flags, 16)
		return appendHexUpper(b, f.Data[:f.Len])
	case f.Remote && f.Len == 0:
		return append(b, "#R"...)
	case f.Remote:
		b = append(b, "#R"...)
		return strconv.AppendInt(b, int64(f.Len), 10)
	}
	b = append(b, '#')
	return appendHexUpper(b, f.Data[:f.Len])
}

const upperHex = "0123456789ABCDEF"

func appendHexUpper(b, data []byte) []byte {
	for _, x := range data {
		b = append(b, upperHex[x>>4], upperHex[x&0x0F])
	}
	return b
}

// appendHexID appends v in upper-case hex, zero-padded to at least width
// digits (fmt's %0*X).
func appendHexID(b []byte, v uint64, width int) []byte {
	var buf [16]byte
	i := len(buf)
	for v > 0 || i == len(buf) {
		i--
		buf[i] = upperHex[v&0x0F]
		v >>= 4
	}
	for n := len(buf) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, buf[i:]...)
}

// appendPadded appends v in decimal, zero-padded to width digits (%06d).
func appendPadded(b []byte, v uint64, width int) []byte {
	var buf [20]byte
	d := strconv.AppendUint(buf[:0], v, 10)
	for n := len(d); n < width; n++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

// LogWriter writes records as a candump -L log. It is safe for concurrent
// use.
type LogWriter struct {
	mu    sync.Mutex
	w     *bufio.Writer
	iface string
	err   error
	line  []byte // the line being written, reused
}

// NewLogWriter writes a log to w; records without an interface name get
// iface.
func NewLogWriter(w io.Writer, iface string) *LogWriter {
	return &LogWriter{w: bufio.NewWriter(w), iface: iface}
}

// Write appends one record and flushes it.
func (l *LogWriter) Write(r Record) error {
	if r.Iface == "" {
		r.Iface = l.iface
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	l.line = append(AppendCandump(l.line[:0], r), '\n')
	if _, err := l.w.Write(l.line); err != nil {
		l.err = fmt.Errorf("capture: candump log: %w", err)
		return l.err
	}
	if err := l.w.Flush(); err != nil {
		l.err = fmt.Errorf("capture: candump log: %w", err)
	}
	return l.err
}

// WriteEvent appends the record of a bus event (see FromEvent).
func (l *LogWriter) WriteEvent(ev can.Event) error {
	r, ok := FromEvent(ev, l.iface)
	if !ok {
		return nil
	}
	return l.Write(r)
}

// Err returns the first write error, if any.
func (l *LogWriter) Err() error { l.mu.Lock(); defer l.mu.Unlock(); return l.err }

// TapLog logs every frame bus carries into w, naming the interface after
// the bus, until stop is called; stop returns the first write error.
func TapLog(bus can.Bus, w io.Writer) (stop func() error) {
	lw := NewLogWriter(w, bus.Name())
	remove := bus.Tap(func(ev can.Event) { _ = lw.WriteEvent(ev) })
	return func() error { remove(); return lw.Err() }
}
