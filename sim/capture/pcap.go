package capture

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/uptane-hil/uptane-hil/sim/can"
)

// LinkTypeSocketCAN is LINKTYPE_CAN_SOCKETCAN.
const LinkTypeSocketCAN = layers.LinkType(227)

// PcapWriter writes records to a pcap file (nanosecond timestamps,
// LINKTYPE_CAN_SOCKETCAN). It is safe for concurrent use.
type PcapWriter struct {
	mu  sync.Mutex
	w   *pcapgo.Writer
	n   int
	err error
}

// NewPcapWriter writes the pcap file header to w.
func NewPcapWriter(w io.Writer) (*PcapWriter, error) {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(can.SocketCANFDMTU, LinkTypeSocketCAN); err != nil {
		return nil, fmt.Errorf("capture: pcap header: %w", err)
	}
	return &PcapWriter{w: pw}, nil
}

// Write appends one record.
func (p *PcapWriter) Write(r Record) error {
	b := EncodeSocketCAN(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(b), Length: len(b)}
	if err := p.w.WritePacket(ci, b); err != nil {
		p.err = fmt.Errorf("capture: pcap packet %d: %w", p.n+1, err)
		return p.err
	}
	p.n++
	return nil
}

// WriteEvent appends the record of a bus event (see FromEvent).
func (p *PcapWriter) WriteEvent(ev can.Event) error {
	r, ok := FromEvent(ev, "")
	if !ok {
		return nil
	}
	return p.Write(r)
}

// Count returns the number of packets written.
func (p *PcapWriter) Count() int { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// Err returns the first write error, if any.
func (p *PcapWriter) Err() error { p.mu.Lock(); defer p.mu.Unlock(); return p.err }

// TapPcap records every frame bus carries into w until stop is called; stop
// returns the first write error.
func TapPcap(bus can.Bus, w io.Writer) (stop func() error, err error) {
	pw, err := NewPcapWriter(w)
	if err != nil {
		return nil, err
	}
	remove := bus.Tap(func(ev can.Event) { _ = pw.WriteEvent(ev) })
	return func() error { remove(); return pw.Err() }, nil
}

// ReadPcap reads every record of a LINKTYPE_CAN_SOCKETCAN pcap file.
func ReadPcap(r io.Reader) ([]Record, error) {
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("capture: pcap: %w", err)
	}
	if pr.LinkType() != LinkTypeSocketCAN {
		return nil, fmt.Errorf("capture: pcap link type %d is not LINKTYPE_CAN_SOCKETCAN (227)", pr.LinkType())
	}
	var out []Record
	for i := 1; ; i++ {
		data, ci, err := pr.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("capture: pcap packet %d: %w", i, err)
		}
		rec, err := DecodeSocketCAN(data)
		if err != nil {
			return out, fmt.Errorf("packet %d: %w", i, err)
		}
		rec.Time = ci.Timestamp
		out = append(out, rec)
	}
}
