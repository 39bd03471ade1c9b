package verify_test

import (
	"bytes"
	"sort"
	"sync"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/uptane-hil/uptane-hil/uptane/verify"
)

// FuzzParseMetadata: the parser never panics on hostile bytes, nor do the
// loaders of trusted state built on it.
func FuzzParseMetadata(f *testing.F) {
	v := fuzzVehicle()
	for _, n := range v.names {
		f.Add(v.files(n)[n])
	}
	f.Add([]byte(`{"signed":{"_type":"targets","version":1,"targets":{"a":null}},"signatures":[]}`))
	f.Add([]byte(`{"signed":{"_type":"targets","version":1,"targets":{},"delegations":{"keys":{},"succinct_roles":{"keyids":[],"threshold":1,"bit_length":99,"name_prefix":"x"}}},"signatures":[]}`))
	f.Add([]byte(`{"signed":{"_type":"root","version":1,"keys":{"k":null},"roles":{}},"signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		verify.ParseMetadata(data)
		verify.NewRepo("image", data)
		verify.LoadRepo(data)
	})
}

type fuzzFixture struct {
	v     *vehicle
	names []string // files a full verification uses, Director then Image
}

func (fx *fuzzFixture) files(name string) verify.MapFetcher {
	if _, ok := fx.v.dir.files[name[2:]]; ok && name[:2] == "d:" {
		return fx.v.dir.files
	}
	return fx.v.img.files
}

var fuzzOnce = sync.OnceValue(func() *fuzzFixture {
	v := newVehicle(1)
	res, err := verify.FullVerification(verify.Options{Time: t0}, v.primary(), v.dir.trusted(), v.img.trusted(), v.dir.files, v.img.files)
	if err != nil {
		panic(err)
	}
	fx := &fuzzFixture{v: v}
	for n := range res.Used.Director {
		fx.names = append(fx.names, "d:"+n)
	}
	for n := range res.Used.Image {
		fx.names = append(fx.names, "i:"+n)
	}
	sort.Strings(fx.names)
	return fx
})

func fuzzVehicle() *fuzzFixture { return fuzzOnce() }

// signedPayload is the canonical JSON of a metadata file's signed part.
func signedPayload(b []byte) []byte {
	m, err := verify.ParseMetadata(b)
	if err != nil {
		return nil
	}
	var signed any
	switch m := m.(type) {
	case *metadata.Metadata[metadata.RootType]:
		signed = m.Signed
	case *metadata.Metadata[metadata.TimestampType]:
		signed = m.Signed
	case *metadata.Metadata[metadata.SnapshotType]:
		signed = m.Signed
	case *metadata.Metadata[metadata.TargetsType]:
		signed = m.Signed
	}
	p, err := cjson.EncodeCanonical(signed)
	if err != nil {
		return nil
	}
	return p
}

// FuzzFullVerification replaces one validly signed file that a full
// verification uses with fuzzed bytes: the verification must reject it
// unless its canonical signed payload is identical to the original's.
func FuzzFullVerification(f *testing.F) {
	fx := fuzzVehicle()
	for i, n := range fx.names {
		orig := fx.files(n[2:])[n[2:]]
		f.Add(uint8(i), orig)
		mut := bytes.Replace(orig, []byte(`"version":1`), []byte(`"version":2`), 1)
		f.Add(uint8(i), mut)
		f.Add(uint8(i), append(append([]byte{}, orig...), ' '))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		n := fx.names[int(which)%len(fx.names)]
		repo, name := n[:1], n[2:]
		df, imf := verify.MapFetcher{}, verify.MapFetcher{}
		for k, b := range fx.v.dir.files {
			df[k] = b
		}
		for k, b := range fx.v.img.files {
			imf[k] = b
		}
		target := imf
		if repo == "d" {
			target = df
		}
		orig := target[name]
		target[name] = data
		_, err := verify.FullVerification(verify.Options{Time: t0}, fx.v.primary(), fx.v.dir.trusted(), fx.v.img.trusted(), df, imf)
		if err != nil {
			return
		}
		if p := signedPayload(data); p == nil || !bytes.Equal(p, signedPayload(orig)) {
			t.Fatalf("accepted %s %s whose signed payload differs from the original:\n%s", repo, name, data)
		}
	})
}
