package verify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// The three benchmarks run side by side with
//
//	go test -run '^$' -bench . ./uptane/verify/
//
// Each iteration starts from nothing but the trusted Root(s).

// BenchmarkFullVerification: a Primary's full verification of a vehicle of
// 1 Primary + 8 Secondaries, Director and Image repositories, the brake
// images behind one delegation level.
func BenchmarkFullVerification(b *testing.B) {
	v := newVehicle(8)
	dRoot, iRoot := v.dir.files["1.root.json"], v.img.files["1.root.json"]
	o := verify.Options{Time: t0}
	for b.Loop() {
		d, err := verify.NewRepo("director", dRoot)
		if err != nil {
			b.Fatal(err)
		}
		i, err := verify.NewRepo("image", iRoot)
		if err != nil {
			b.Fatal(err)
		}
		res, err := verify.FullVerification(o, v.primary(), d, i, v.dir.files, v.img.files)
		if err != nil || len(res.Targets) != 9 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/verification")
}

// BenchmarkPartialVerification: one ECU's partial verification (Director
// Root check, then Director Targets) in the same vehicle.
func BenchmarkPartialVerification(b *testing.B) {
	v := newVehicle(8)
	dRoot := v.dir.files["1.root.json"]
	f := verify.MapFetcher{"targets.json": v.dir.files["1.targets.json"]}
	o := verify.Options{Time: t0}
	for b.Loop() {
		d, err := verify.NewRepo("director", dRoot)
		if err != nil {
			b.Fatal(err)
		}
		t, err := verify.PartialVerification(o, d, f, "BRK4", true)
		if err != nil || t == nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/verification")
}

// memFetcher serves a MapFetcher to go-tuf's updater.
type memFetcher struct {
	prefix string
	files  verify.MapFetcher
}

func (m memFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	b, ok := m.files[strings.TrimPrefix(u, m.prefix)]
	if !ok {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: 404, URL: u}
	}
	if int64(len(b)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s longer than %d", u, maxLength)}
	}
	return b, nil
}

// BenchmarkGoTUFUpdaterRefresh: go-tuf v2's updater refreshing the same
// Image-repository metadata from an in-memory fetcher and looking up the
// vehicle's 9 images (top-level and delegated). It covers one repository;
// BenchmarkFullVerification covers two plus the Director/Image match.
func BenchmarkGoTUFUpdaterRefresh(b *testing.B) {
	v := newVehicle(8)
	iRoot := v.img.files["1.root.json"]
	var names []string
	for n := range v.images {
		names = append(names, n)
	}
	for b.Loop() {
		cfg, err := config.New("mem://image/", iRoot)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Fetcher = memFetcher{prefix: "mem://image/", files: v.img.files}
		cfg.DisableLocalCache = true
		up, err := updater.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		up.UnsafeSetRefTime(t0)
		if err := up.Refresh(); err != nil {
			b.Fatal(err)
		}
		for _, n := range names {
			if _, err := up.GetTargetInfo(n); err != nil {
				b.Fatal(n, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/verification")
}
