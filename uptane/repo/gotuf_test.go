package repo_test

import (
	. "github.com/onsi/gomega"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	. "github.com/onsi/ginkgo/v2"
)

// goTUFDownload runs go-tuf v2's own client against a repository at url:
// refresh from the trusted root, then download each target. It returns the
// Root version the client ends with and the targets' bytes.
func goTUFDownload(url string, root []byte, names []string) (int64, [][]byte) {
	GinkgoHelper()
	cfg, err := config.New(url, root)
	Expect(err).NotTo(HaveOccurred())
	cfg.LocalMetadataDir = GinkgoT().TempDir()
	cfg.LocalTargetsDir = GinkgoT().TempDir()
	up, err := updater.New(cfg)
	Expect(err).NotTo(HaveOccurred())
	Expect(up.Refresh()).To(Succeed())
	var out [][]byte
	for _, n := range names {
		ti, err := up.GetTargetInfo(n)
		Expect(err).NotTo(HaveOccurred(), n)
		_, data, err := up.DownloadTarget(ti, "", "")
		Expect(err).NotTo(HaveOccurred(), n)
		out = append(out, data)
	}
	return up.GetTrustedMetadataSet().Root.Signed.Version, out
}
