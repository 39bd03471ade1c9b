package mitm_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestMITM(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "attacks/mitm")
}
