package vehicle_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestVehicle(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ecus/vehicle")
}
