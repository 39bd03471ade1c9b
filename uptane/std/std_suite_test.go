package std_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestStd(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "std")
}
