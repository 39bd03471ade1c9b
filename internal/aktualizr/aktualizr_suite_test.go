package aktualizr

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAktualizr(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "internal/aktualizr")
}
