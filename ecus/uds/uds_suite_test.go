package uds_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestUDS(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ecus/uds")
}
