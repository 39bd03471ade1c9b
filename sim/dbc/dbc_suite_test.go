package dbc_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestDBC(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "dbc")
}
