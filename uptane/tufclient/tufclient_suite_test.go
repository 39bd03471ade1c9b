package tufclient_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestTUFClient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "uptane/tufclient")
}
