package vbus_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestVbus(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sim/vbus")
}
