package pouf_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPOUF(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ecus/pouf")
}
