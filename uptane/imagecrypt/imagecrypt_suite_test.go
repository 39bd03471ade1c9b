package imagecrypt_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestImagecrypt(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "uptane/imagecrypt")
}
