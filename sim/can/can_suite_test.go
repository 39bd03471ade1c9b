package can_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestCAN(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sim/can")
}
