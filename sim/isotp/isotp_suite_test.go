package isotp_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestISOTP(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sim/isotp")
}
