package uds_test

import (
	"testing"
	"time"

	"github.com/uptane-hil/uptane-hil/ecus/uds"
	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// FuzzServerRequest sends hostile requests to a server in the programming
// session with a download open. The server must never panic, and must
// answer each request with exactly one well-formed response (a positive
// response to its SID, or 7F <SID> <NRC>, after any 0x78) — or nothing,
// where ISO 14229-1 says so (an empty message, a suppressed positive
// response).
func FuzzServerRequest(f *testing.F) {
	for _, seed := range [][]byte{
		{2, 0x22, 0xF1, 0x8C},
		{4, 0x36, 0x01, 1, 2},
		{2, 0x36, 0x02, 1, 0x37},
		{4, 0x31, 0x81, 0xFF, 0x12},
		{3, 0x10, 0x83, 0x01},
		{9, 0x38, 0x06, 0x00, 0x01, 'f', 0x00, 0x01, 0x64, 0x64},
		{1, 0x37, 0, 2, 0x11, 0x01},
		{2, 0x3E, 0x80, 3, 0x2E, 0xF1, 0xA3},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var reqs [][]byte
		for len(in) > 0 && len(reqs) < 16 {
			n := min(int(in[0]), len(in)-1)
			reqs = append(reqs, in[1:1+n])
			in = in[1+n:]
		}
		sim := clock.NewSim(time.Time{})
		sim.SetHorizon(time.Hour)
		tester, ecuEnd := uds.Pipe(sim)
		h := newFake(sim)
		srv := uds.NewServer(ecuEnd, sim, h, uds.ServerConfig{MaxBlockLength: 64})
		var failure string
		err := sim.Run("tester", func() {
			sim.Go("server", func() { _ = srv.Serve() })
			ask := func(req ...byte) []byte {
				_ = tester.Send(req)
				m, _ := tester.Recv(time.Second)
				return m
			}
			ask(0x10, 0x03)
			ask(0x10, 0x02)
			ask(uds.FileRequest{Mode: uds.ReplaceFile, Path: "f", Size: 100, CompressedSize: 100}.Encode()...)
			for _, req := range reqs {
				if msg := checkExchange(tester, req); msg != "" {
					failure = msg
					break
				}
			}
			tester.Close()
		})
		if err != nil {
			t.Fatalf("server failed: %v", err)
		}
		if failure != "" {
			t.Fatal(failure)
		}
	})
}

// checkExchange sends req and checks what comes back.
func checkExchange(tester *uds.PipeEnd, req []byte) string {
	if err := tester.Send(req); err != nil {
		return "send: " + err.Error()
	}
	var got [][]byte
	for {
		m, err := tester.Recv(10 * time.Second)
		if err != nil {
			break
		}
		got = append(got, m)
		if len(m) == 3 && m[0] == 0x7F && m[2] == byte(uds.ResponsePending) {
			continue
		}
		if _, err := tester.Recv(time.Second); err == nil {
			return "more than one final response"
		}
		break
	}
	if len(req) == 0 {
		if len(got) != 0 {
			return "a response to an empty message"
		}
		return ""
	}
	if len(got) == 0 {
		sub := map[byte]bool{0x10: true, 0x11: true, 0x31: true, 0x3E: true}
		if sub[req[0]] && len(req) > 1 && req[1]&0x80 != 0 {
			return ""
		}
		return "no response"
	}
	final := got[len(got)-1]
	for _, m := range got[:len(got)-1] {
		if len(m) != 3 || m[1] != req[0] {
			return "malformed response pending"
		}
	}
	switch {
	case len(final) == 3 && final[0] == 0x7F:
		if final[1] != req[0] || final[2] == 0 || final[2] == byte(uds.ResponsePending) {
			return "malformed negative response"
		}
	case len(final) >= 1 && final[0] == req[0]+0x40 && req[0] < 0x40:
	default:
		return "response does not answer the request"
	}
	return ""
}
