package primary

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/uptane-hil/uptane-hil/sim/clock"
	"github.com/uptane-hil/uptane-hil/uptane/check"
	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// ErrNotFound is returned for a file the repository does not have (HTTP
// 404); it is verify.ErrNotFound, so a Root chain stops at the latest.
var ErrNotFound = verify.ErrNotFound

// Fetcher downloads files of one repository over HTTP with the in-vehicle
// requirements of the Standard: every download is capped at the size the
// caller allows (X/Y/Z and the lengths in metadata), every request times out
// on the run's clock (a drop-request attack is reported, not waited on
// forever), and a download slower than MinRate after Grace is aborted and
// reported (slow retrieval: "All ECUs SHALL monitor the download speed").
type Fetcher struct {
	Repo    string // "director" or "image": names the repository in errors
	Base    string // base URL, e.g. "http://backend/director/VIN123/"
	Client  *http.Client
	Clock   clock.Clock
	Timeout time.Duration // whole request, on Clock; 0: 30 s
	MinRate int64         // bytes per second of Clock time; 0: 1024
	Grace   time.Duration // before the rate is judged, on Clock; 0: 5 s
	Profile check.Profile
}

type result struct {
	data []byte
	err  error
}

// Fetch downloads name, reading at most maxBytes+1 bytes so that the caller
// sees an oversized file as oversized without reading it all.
func (f *Fetcher) Fetch(name string, maxBytes int64) ([]byte, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	path, query, _ := strings.Cut(name, "?")
	u, err := url.JoinPath(f.Base, path)
	if query != "" {
		u += "?" + query
	}
	if err != nil {
		return nil, fmt.Errorf("primary: %s repository: bad file name %q: %w", f.Repo, name, err)
	}
	q := clock.NewQueue[result](f.Clock, 1)
	f.Clock.Go("http GET "+f.Repo+"/"+name, func() {
		data, err := f.get(u, name, maxBytes)
		q.TryPush(result{data, err})
	})
	if !f.Profile.On(check.InVehicleRequestTimeout) {
		timeout = clock.Forever
	}
	r, err := q.Pop(timeout)
	if err != nil {
		return nil, check.Fail(check.InVehicleRequestTimeout, f.Repo, roleOf(name),
			"GET %s got no complete answer within %s", name, timeout)
	}
	return r.data, r.err
}

func (f *Fetcher) get(u, name string, maxBytes int64) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("primary: %s repository: %w", f.Repo, err)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("primary: %s repository: GET %s: %w", f.Repo, name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s repository: %s", ErrNotFound, f.Repo, name)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("primary: %s repository: GET %s: HTTP %d", f.Repo, name, resp.StatusCode)
	}
	minRate, grace := f.MinRate, f.Grace
	if minRate <= 0 {
		minRate = 1024
	}
	if grace <= 0 {
		grace = 5 * time.Second
	}
	start := f.Clock.Now()
	buf := make([]byte, 0, min(maxBytes+1, 64<<10))
	chunk := make([]byte, 32<<10)
	for int64(len(buf)) <= maxBytes {
		want := min(int64(len(chunk)), maxBytes+1-int64(len(buf)))
		n, err := resp.Body.Read(chunk[:want])
		buf = append(buf, chunk[:n]...)
		if el := f.Clock.Since(start); el > grace && f.Profile.On(check.InVehicleDownloadSpeed) {
			if rate := float64(len(buf)) / el.Seconds(); rate < float64(minRate) {
				return nil, check.Fail(check.InVehicleDownloadSpeed, f.Repo, roleOf(name),
					"GET %s: %d bytes in %s is %.0f B/s, below the %d B/s threshold", name, len(buf), el.Round(time.Millisecond), rate, minRate)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("primary: %s repository: GET %s: %w", f.Repo, name, err)
		}
	}
	return buf, nil
}

// roleOf guesses the role from a metadata file name ("3.snapshot.json").
func roleOf(name string) string {
	base := name[strings.LastIndex(name, "/")+1:]
	if !strings.HasSuffix(base, ".json") {
		return "image"
	}
	base = strings.TrimSuffix(base, ".json")
	if i := strings.Index(base, "."); i >= 0 && strings.Trim(base[:i], "0123456789") == "" {
		base = base[i+1:]
	}
	return base
}
