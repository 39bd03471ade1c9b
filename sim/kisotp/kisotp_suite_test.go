package kisotp_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptane-hil/uptane-hil/internal/vcantest"
)

// Specs labelled vcan need SocketCAN: skipped with the reason on a host
// without it, failed where it is required (internal/vcantest).
var _ = vcantest.Guard()

func TestKISOTP(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sim/kisotp")
}
