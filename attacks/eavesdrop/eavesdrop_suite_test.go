package eavesdrop_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestEavesdrop(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "attacks/eavesdrop")
}
