package isotp_test

import (
	. "github.com/onsi/ginkgo/v2"
)

// The same ISO-TP specs run on every transport (helpers_test.go): the
// virtual bus under the simulated clock (exact times), the virtual bus
// under the wall clock (real goroutines, any host), and SocketCAN in the
// VM of `make test-vcan` (vcan0 classic, vcan1 CAN FD; each channel and
// each scripted peer its own CAN_RAW socket). The host runs them with
// --label-filter='!vcan'.
var (
	_ = Describe("ISO-TP on "+simulated.name, func() { describeISOTP(simulated) })
	_ = Describe("ISO-TP on "+virtualWall.name, func() { describeISOTP(virtualWall) })
	_ = Describe("ISO-TP on "+vcan.name, Label("vcan"), func() { describeISOTP(vcan) })
)

func describeISOTP(t transport) {
	describeTransfers(t)
	describeFlowControl(t)
	describeReception(t)
}
