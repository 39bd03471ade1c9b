package restbus_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRestbus(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "restbus")
}
