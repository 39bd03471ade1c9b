package socketcan_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSocketCAN(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sim/socketcan")
}
