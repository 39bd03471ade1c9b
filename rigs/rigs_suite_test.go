package rigs_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRigs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rigs")
}
