// Package mitm is the man-in-the-middle on the Primary's link to the Director
// and Image repositories (seam 1 of docs/architecture.md). A Proxy is an
// http.RoundTripper that the rig puts in the Primary's http.Client; it
// records every response and, while a rule is switched on, replays,
// substitutes, truncates, slows, drops or inflates them — the freeze,
// rollback, mix-and-match, arbitrary-software, endless-data, slow-retrieval,
// drop-request and partial-bundle attacks of the Standard's threat model.
package mitm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/clock"
)

// Exchange is one request the proxy saw and what it answered.
type Exchange struct {
	Time   time.Time
	Method string
	Path   string
	Status int
	Length int64
	Rule   string // the rule that tampered with it, "" when passed through
}

// Rule tampers with the responses to matching requests.
type Rule struct {
	// Name names the attack in logs and reports.
	Name string
	// Path matches the request's URL path (e.g. `/timestamp\.json$`).
	Path *regexp.Regexp
	// Method matches the request method ("" matches any).
	Method string
	// Action decides the response.
	Action Action
	// Times limits how often the rule fires (0: no limit).
	Times int
	fired int
	// served counts the bytes the victim read from this rule's responses.
	served atomic.Int64
}

// Served returns how many bytes the victim read from the rule's responses.
func (r *Rule) Served() int64 { return r.served.Load() }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Action produces the tampered response.
type Action interface {
	apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error)
}

// Proxy is the man in the middle.
type Proxy struct {
	next  http.RoundTripper
	clk   clock.Clock
	mu    sync.Mutex
	rules []*Rule
	rec   map[string][][]byte // path → bodies of 200 responses, oldest first
	posts map[string][][]byte // path → bodies of POST requests, oldest first
	log   []Exchange
	limit int64
}

// New returns a proxy in front of next.
func New(next http.RoundTripper, clk clock.Clock) *Proxy {
	return &Proxy{next: next, clk: clk, rec: map[string][][]byte{}, posts: map[string][][]byte{}, limit: 64 << 20}
}

// Add switches a rule on; the returned function switches it off.
func (p *Proxy) Add(r *Rule) (remove func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, x := range p.rules {
			if x == r {
				p.rules = append(p.rules[:i], p.rules[i+1:]...)
				return
			}
		}
	}
}

// Clear switches every rule off.
func (p *Proxy) Clear() { p.mu.Lock(); p.rules = nil; p.mu.Unlock() }

// Recorded returns the bodies of the successful responses seen for a path,
// oldest first.
func (p *Proxy) Recorded(path string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.rec[path]...)
}

// Posted returns the bodies of the POST requests seen for a path (e.g. the
// vehicle manifests), oldest first.
func (p *Proxy) Posted(path string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.posts[path]...)
}

// Log returns every exchange so far.
func (p *Proxy) Log() []Exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Exchange(nil), p.log...)
}

func (p *Proxy) match(req *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if r.Method != "" && r.Method != req.Method {
			continue
		}
		if r.Path != nil && !r.Path.MatchString(req.URL.Path) {
			continue
		}
		if r.Times > 0 && r.fired >= r.Times {
			continue
		}
		r.fired++
		return r
	}
	return nil
}

// RoundTrip implements http.RoundTripper.
func (p *Proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, p.limit))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.posts[req.URL.Path] = append(p.posts[req.URL.Path], b)
		p.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
	}
	var (
		got     bool
		resp    *http.Response
		body    []byte
		nextErr error
	)
	next := func() (*http.Response, []byte, error) {
		if got {
			return resp, body, nextErr
		}
		got = true
		resp, nextErr = p.next.RoundTrip(req)
		if nextErr != nil {
			return nil, nil, nextErr
		}
		body, nextErr = io.ReadAll(io.LimitReader(resp.Body, p.limit))
		resp.Body.Close()
		if nextErr == nil && resp.StatusCode == http.StatusOK && req.Method == http.MethodGet {
			p.mu.Lock()
			p.rec[req.URL.Path] = append(p.rec[req.URL.Path], body)
			p.mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, body, nextErr
	}
	rule := p.match(req)
	var out *http.Response
	var err error
	if rule == nil {
		out, _, err = next()
	} else {
		out, err = rule.Action.apply(p, req, next)
		if out != nil && out.Body != nil {
			out.Body = countingBody{out.Body, &rule.served}
		}
	}
	ex := Exchange{Time: p.clk.Now(), Method: req.Method, Path: req.URL.Path}
	if rule != nil {
		ex.Rule = rule.Name
	}
	if out != nil {
		ex.Status, ex.Length = out.StatusCode, out.ContentLength
	}
	p.mu.Lock()
	p.log = append(p.log, ex)
	p.mu.Unlock()
	return out, err
}

func respond(req *http.Request, code int, body io.ReadCloser, length int64) *http.Response {
	h := http.Header{}
	if length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: body, ContentLength: length, Request: req}
}

func bodyResponse(req *http.Request, code int, b []byte) *http.Response {
	return respond(req, code, io.NopCloser(bytes.NewReader(b)), int64(len(b)))
}

// Replay answers with the Nth-oldest recorded successful response for the
// same path (0: the first ever seen) — a freeze or rollback with validly
// signed old metadata. With nothing recorded it passes the request through.
type Replay struct{ Index int }

func (a Replay) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	recs := p.Recorded(req.URL.Path)
	if a.Index < len(recs) {
		return bodyResponse(req, http.StatusOK, recs[a.Index]), nil
	}
	r, _, err := next()
	return r, err
}

// Substitute answers with Body, or with Edit applied to the genuine response
// — metadata or images the attacker made or picked (arbitrary software,
// mix-and-match, rollback with a captured older file).
type Substitute struct {
	Body []byte
	Edit func(genuine []byte) []byte
}

func (a Substitute) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	if a.Edit == nil {
		return bodyResponse(req, http.StatusOK, a.Body), nil
	}
	r, b, err := next()
	if err != nil {
		return nil, err
	}
	if r.StatusCode != http.StatusOK {
		return r, nil
	}
	return bodyResponse(req, http.StatusOK, a.Edit(b)), nil
}

// Truncate cuts the genuine response after N bytes.
type Truncate struct{ N int }

func (a Truncate) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	r, b, err := next()
	if err != nil {
		return nil, err
	}
	if len(b) > a.N {
		b = b[:a.N]
	}
	return bodyResponse(req, r.StatusCode, b), nil
}

// Slow delivers the genuine response Chunk bytes at a time with Interval
// between chunks, on the run's clock — a slow retrieval attack.
type Slow struct {
	Chunk    int
	Interval time.Duration
}

func (a Slow) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	r, b, err := next()
	if err != nil {
		return nil, err
	}
	chunk := a.Chunk
	if chunk <= 0 {
		chunk = 1
	}
	return respond(req, r.StatusCode, io.NopCloser(&slowReader{clk: p.clk, data: b, chunk: chunk, every: a.Interval}), int64(len(b))), nil
}

type slowReader struct {
	clk   clock.Clock
	data  []byte
	chunk int
	every time.Duration
}

func (s *slowReader) Read(b []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	s.clk.Sleep(s.every)
	n := min(len(b), s.chunk, len(s.data))
	copy(b, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// ErrDropped is what a dropped request finally returns, if anyone still waits.
var ErrDropped = errors.New("mitm: request dropped")

// Drop never answers: the request hangs for Hold (default a day of simulated
// time) and then fails — a drop-request attack. The Primary must time out.
type Drop struct{ Hold time.Duration }

func (a Drop) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	hold := a.Hold
	if hold <= 0 {
		hold = 24 * time.Hour
	}
	p.clk.Sleep(hold)
	return nil, ErrDropped
}

// Status answers with an HTTP error code (e.g. 404: the file "is not there",
// blocking one image of a bundle — a partial bundle attack).
type Status struct{ Code int }

func (a Status) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	return bodyResponse(req, a.Code, []byte(http.StatusText(a.Code))), nil
}

// Endless answers 200 with a body that never ends (or Length bytes), with no
// Content-Length — an endless data attack. Prefix is sent first (e.g. a
// plausible JSON opening).
type Endless struct {
	Prefix []byte
	Length int64 // 0: endless
}

func (a Endless) apply(p *Proxy, req *http.Request, next func() (*http.Response, []byte, error)) (*http.Response, error) {
	var r io.Reader = io.MultiReader(bytes.NewReader(a.Prefix), endless{})
	if a.Length > 0 {
		r = io.LimitReader(r, a.Length)
	}
	return respond(req, http.StatusOK, io.NopCloser(r), -1), nil
}

type endless struct{}

func (endless) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = ' '
	}
	return len(b), nil
}
