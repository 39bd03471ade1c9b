package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/uptane-hil/uptane-hil/sim/capture"
	"github.com/uptane-hil/uptane-hil/sim/dbc"
)

func init() {
	register("decode", "print a capture (pcap or candump log) as the signals of a DBC file", func(args []string) int {
		return decodeCmd(args, os.Stdout, os.Stderr)
	})
}

func decodeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbcFile := fs.String("dbc", "", "the bus's DBC file (required)")
	onlyMsg := fs.String("message", "", "print only this message")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: uptane-hil decode --dbc FILE [--message NAME] CAPTURE

Prints every frame of CAPTURE (a pcap file with LINKTYPE_CAN_SOCKETCAN, as
uptane-hil run --captures and tshark write, or a candump -L log) whose
identifier the DBC file defines, one line per signal: time (seconds),
interface, message, signal, physical value (with its value description)
and unit. Frames the file does not define are counted, not printed.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *dbcFile == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "uptane-hil decode: %v\n", err); return 1 }
	db, err := dbc.Load(*dbcFile)
	if err != nil {
		return fail(err)
	}
	if *onlyMsg != "" {
		if _, ok := db.Message(*onlyMsg); !ok {
			return fail(fmt.Errorf("%s defines no message %q", db.File, *onlyMsg))
		}
	}
	recs, err := readCapture(fs.Arg(0))
	if err != nil {
		return fail(err)
	}
	var unknown, decoded int
	for _, rec := range recs {
		if rec.Error {
			continue
		}
		m, ok := db.MessageByID(rec.Frame.ID, rec.Frame.Extended)
		if !ok {
			unknown++
			continue
		}
		if *onlyMsg != "" && m.Name != *onlyMsg {
			continue
		}
		decoded++
		t := strconv.FormatFloat(float64(rec.Time.UnixNano())/1e9, 'f', 6, 64)
		iface := rec.Iface
		if iface == "" {
			iface = "-"
		}
		for i, raw := range m.Decode(&rec.Frame) {
			s := m.Signals[i]
			fmt.Fprintf(stdout, "%s  %-10s %-22s %-24s %s %s\n", t, iface, m.Name, s.Name, s.Format(raw), s.Unit)
		}
	}
	fmt.Fprintf(stderr, "%d frames decoded, %d of identifiers %s does not define\n", decoded, unknown, db.File)
	return 0
}

// readCapture reads a pcap file or a candump log, telling them apart by the
// pcap magic number.
func readCapture(path string) ([]capture.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, magic := range [][]byte{{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}} {
		if bytes.HasPrefix(data, magic) {
			recs, err := capture.ReadPcap(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return recs, nil
		}
	}
	recs, err := capture.ParseCandumpLog(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}
