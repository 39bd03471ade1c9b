package akdialect_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAkdialect(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "uptane/akdialect")
}
