package aktualizrip_test

import (
	"bytes"
	"errors"
	"net"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ip "github.com/uptane-hil/uptane-hil/ecus/aktualizrip"
)

// toy is a minimal Secondary for the protocol specs: it records what it is
// sent and answers like aktualizr-secondary (version 2 unless v1Only, then
// it drops the connection on versionReq as a version-1 Secondary does).
type toy struct {
	mu       sync.Mutex
	v1Only   bool
	got      []ip.Kind
	image    bytes.Buffer
	meta     []ip.MetaJSON
	roots    map[ip.Repo]int64
	rejectAt int // fail the upload chunk with this index (1-based)
	chunks   int
}

func (t *toy) Handle(req ip.Message) (ip.Message, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.got = append(t.got, req.Kind())
	switch r := req.(type) {
	case *ip.GetInfoRequest:
		return &ip.GetInfoResponse{ECUSerial: "toy-1", HardwareID: "toy-hw", KeyType: ip.KeyED25519, Key: []byte("AB")}, nil
	case *ip.VersionRequest:
		if t.v1Only {
			return nil, errors.New("unknown message")
		}
		return &ip.VersionResponse{Version: 2}, nil
	case *ip.RootVersionRequest:
		return &ip.RootVersionResponse{Version: t.roots[r.Repo]}, nil
	case *ip.PutRootRequest:
		t.roots[r.Repo]++
		return &ip.PutRootResponse{Result: ip.ResultOK}, nil
	case *ip.PutMetaRequest2:
		t.meta = append(append(t.meta, r.Image...), r.Director...)
		return &ip.PutMetaResponse2{Result: ip.ResultOK}, nil
	case *ip.PutMetaRequest:
		t.meta = append(t.meta, ip.MetaJSON{Role: "root", JSON: r.ImageRoot}, ip.MetaJSON{Role: "targets", JSON: r.DirectorTargets})
		return &ip.PutMetaResponse{}, nil
	case *ip.UploadDataRequest:
		t.chunks++
		if t.chunks == t.rejectAt {
			return &ip.UploadDataResponse{Result: ip.ResultDownloadFailed, Description: "disk full"}, nil
		}
		t.image.Write(r.Data)
		return &ip.UploadDataResponse{Result: ip.ResultOK}, nil
	case *ip.SendFirmwareRequest:
		t.image.Write(r.Firmware)
		return &ip.SendFirmwareResponse{}, nil
	case *ip.InstallRequest:
		if t.v1Only {
			return &ip.InstallResponse{Result: ip.ResultOK}, nil
		}
		return &ip.InstallResponse2{Result: ip.ResultOK}, nil
	case *ip.ManifestRequest:
		return &ip.ManifestResponse{JSON: []byte(`{"signed":{"ecu_serial":"toy-1"}}`)}, nil
	}
	return nil, errors.New("unknown message")
}

func (t *toy) kinds() []ip.Kind {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]ip.Kind(nil), t.got...)
}

// serve runs srv on a loopback listener until the spec ends; it returns the
// address and a channel of the errors that ended each connection.
func serve(srv *ip.Server) (string, chan error) {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	ends := make(chan error, 16)
	srv.OnError = func(err error) { ends <- err }
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	DeferCleanup(func() { l.Close(); <-done })
	return l.Addr().String(), ends
}

var _ = Describe("our Primary's end against our Secondary's end over loopback TCP", func() {
	It("runs the whole aktualizr sequence on one connection, in version 2", func() {
		t := &toy{roots: map[ip.Repo]int64{ip.RepoDirector: 1, ip.RepoImage: 1}}
		addr, _ := serve(&ip.Server{Handler: t})
		c := &ip.Client{Dial: ip.TCP(addr, 0), Chunk: 100}
		defer c.Close()
		info, err := c.GetInfo()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.ECUSerial).To(Equal("toy-1"))
		Expect(c.Negotiate()).To(Equal(int64(2)))
		Expect(c.RootVersion(ip.RepoImage)).To(Equal(int64(1)))
		Expect(c.PutRoot(ip.RepoImage, []byte(`{"v":2}`))).To(Succeed())
		Expect(c.RootVersion(ip.RepoImage)).To(Equal(int64(2)))
		Expect(c.PutMeta([]ip.MetaJSON{{Role: "root", JSON: []byte("{}")}}, []ip.MetaJSON{{Role: "targets", JSON: []byte("[]")}})).To(Succeed())
		img := bytes.Repeat([]byte{1, 2, 3}, 1000)
		var seen []int64
		Expect(c.Upload(img, func(done, total int64) { seen = append(seen, done); Expect(total).To(Equal(int64(3000))) })).To(Succeed())
		Expect(seen).To(HaveLen(30))
		Expect(seen[29]).To(Equal(int64(3000)))
		Expect(c.Install("fw.bin")).To(Succeed())
		Expect(c.Manifest()).To(ContainSubstring("toy-1"))
		Expect(t.image.Bytes()).To(Equal(img))
		Expect(t.meta).To(HaveLen(2))
		Expect(t.kinds()[:6]).To(Equal([]ip.Kind{ip.KindGetInfoReq, ip.KindVersionReq, ip.KindRootVerReq, ip.KindPutRootReq, ip.KindRootVerReq, ip.KindPutMetaReq2}))
	})

	It("falls back to version 1 as aktualizr's Primary does: no versionResp, but an answer to getInfoReq", func() {
		t := &toy{v1Only: true, roots: map[ip.Repo]int64{}}
		addr, ends := serve(&ip.Server{Handler: t})
		c := &ip.Client{Dial: ip.TCP(addr, 0)}
		defer c.Close()
		Expect(c.Negotiate()).To(Equal(int64(1)))
		Eventually(ends).Should(Receive(MatchError(ContainSubstring("versionReq: unknown message"))))
		Expect(c.PutMeta([]ip.MetaJSON{{Role: "root", JSON: []byte("R")}}, []ip.MetaJSON{{Role: "targets", JSON: []byte("T")}})).To(Succeed())
		Expect(c.Upload([]byte("firmware"), nil)).To(Succeed())
		Expect(c.Install("fw.bin")).To(Succeed())
		Expect(t.kinds()).To(Equal([]ip.Kind{ip.KindVersionReq, ip.KindGetInfoReq, ip.KindPutMetaReq, ip.KindSendFirmwareReq, ip.KindInstallReq}))
		Expect(t.meta).To(Equal([]ip.MetaJSON{{Role: "root", JSON: []byte("R")}, {Role: "targets", JSON: []byte("T")}}))
		Expect(t.image.String()).To(Equal("firmware"))
	})

	It("stops an upload at the chunk the Secondary refuses and says where", func() {
		t := &toy{rejectAt: 3, roots: map[ip.Repo]int64{}}
		addr, _ := serve(&ip.Server{Handler: t})
		c := &ip.Client{Dial: ip.TCP(addr, 0), Chunk: 10}
		defer c.Close()
		err := c.Upload(make([]byte, 100), nil)
		var re *ip.ResultError
		Expect(errors.As(err, &re)).To(BeTrue())
		Expect(re.Code).To(Equal(ip.ResultDownloadFailed))
		Expect(err).To(MatchError(ContainSubstring("at byte 20 of 100")))
		Expect(err).To(MatchError(ContainSubstring("disk full")))
		Expect(t.image.Len()).To(Equal(20))
	})

	It("reaches a Secondary again on a new connection after it dropped the old one", func() {
		t := &toy{v1Only: true, roots: map[ip.Repo]int64{}}
		addr, _ := serve(&ip.Server{Handler: t})
		c := &ip.Client{Dial: ip.TCP(addr, 0)}
		defer c.Close()
		_, err := c.Call(&ip.VersionRequest{Version: 2}, ip.KindVersionResp)
		var te *ip.TransportError
		Expect(errors.As(err, &te)).To(BeTrue())
		Expect(err).To(MatchError(ContainSubstring("closed the connection without an answer")))
		Expect(c.GetInfo()).To(HaveField("ECUSerial", "toy-1"))
	})

	It("reports a Secondary that is not there as a transport error", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		l.Close()
		_, err = (&ip.Client{Dial: ip.TCP(addr, 0)}).GetInfo()
		var te *ip.TransportError
		Expect(errors.As(err, &te)).To(BeTrue())
		Expect(te.Op).To(Equal(ip.KindGetInfoReq))
	})
})

var _ = Describe("our Secondary's end given bad input", func() {
	DescribeTable("drops the connection with a clear error and hands nothing to the Secondary",
		func(in []byte, want string) {
			t := &toy{roots: map[ip.Repo]int64{}}
			addr, ends := serve(&ip.Server{Handler: t, Max: 1 << 16})
			conn, err := net.Dial("tcp", addr)
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			_, err = conn.Write(in)
			Expect(err).NotTo(HaveOccurred())
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.CloseWrite() // a truncated message ends here (the server may have dropped the connection already)
			}
			Eventually(ends).Should(Receive(MatchError(ContainSubstring(want))))
			n, err := conn.Read(make([]byte, 16))
			Expect(n).To(BeZero(), "no answer")
			Expect(err).To(HaveOccurred(), "the connection is closed")
			Expect(t.kinds()).To(BeEmpty())
		},
		Entry("truncated", unhexNoHelper("B1 05 30 03 02"), "unexpected EOF"),
		Entry("oversized", unhexNoHelper("AE 84 01 00 00 01"), "length 16777223, more than the limit of 65536"),
		Entry("wrongly tagged", unhexNoHelper("30 05 30 03 02 01 02"), "not a constructed context tag"),
		Entry("wrong inner tag", unhexNoHelper("B1 05 30 03 0A 01 02"), "versionReq.version"),
		Entry("garbage", []byte("GET / HTTP/1.1\r\n\r\n"), "identifier 0x47 is not a constructed context tag"),
	)

	It("answers good requests before a bad one on the same connection, and none after", func() {
		t := &toy{roots: map[ip.Repo]int64{}}
		addr, ends := serve(&ip.Server{Handler: t})
		conn, err := net.Dial("tcp", addr)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		in := append(ip.Encode(&ip.GetInfoRequest{}), unhexNoHelper("FF FF")...)
		in = append(in, ip.Encode(&ip.GetInfoRequest{})...)
		_, err = conn.Write(in)
		Expect(err).NotTo(HaveOccurred())
		m, err := ip.ReadMessage(conn, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Kind()).To(Equal(ip.KindGetInfoResp))
		Eventually(ends).Should(Receive(HaveOccurred()))
		_, err = ip.ReadMessage(conn, 0)
		Expect(err).To(HaveOccurred())
		Expect(t.kinds()).To(Equal([]ip.Kind{ip.KindGetInfoReq}))
	})
})

func unhexNoHelper(s string) []byte {
	var out []byte
	var v, n int
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			v, n = v<<4|int(c-'0'), n+1
		case c >= 'A' && c <= 'F':
			v, n = v<<4|int(c-'A'+10), n+1
		default:
			continue
		}
		if n == 2 {
			out, v, n = append(out, byte(v)), 0, 0
		}
	}
	return out
}
