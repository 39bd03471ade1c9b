package aktualizrip_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAktualizrIP(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ecus/aktualizrip")
}
