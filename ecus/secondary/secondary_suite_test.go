package secondary_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSecondary(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ecus/secondary")
}
