# uptane-hil — see README.md.
#   make demo   the main job: the attack suite on the embedded bus, report in out/
#   make test   every test: host specs, short fuzzing, and the vcan specs in a qemu VM
#   make bench  the benchmarks
#   make golden rewrite the golden report of the suite (cmd/uptane-hil/testdata)
GO       ?= go
GINKGO   := $(GO) tool ginkgo
OUT      ?= out
FUZZTIME ?= 10s

.PHONY: all build demo test test-host test-vcan fuzz bench vet fmt clean golden

all: build

build:
	$(GO) build ./...

demo:
	$(GO) run ./cmd/uptane-hil run --rig rigs/virtual.yaml --out $(OUT) scenarios/

test: vet test-host fuzz test-vcan
	@.ci/junit-summary

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

test-host:
	@mkdir -p $(OUT)/test
	$(GINKGO) -r --label-filter='!vcan' --keep-going --timeout=40m \
		--junit-report=junit-host.xml --output-dir=$(OUT)/test ./...

fuzz:
	FUZZTIME=$(FUZZTIME) .ci/fuzz-short

test-vcan:
	.ci/vm/run-vcan-tests

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Rewrites cmd/uptane-hil/testdata/report.golden.json from a run of the suite
# (after a change meant to change results: a new scenario, check or detail).
golden:
	UPTANE_HIL_GOLDEN=update $(GO) test ./cmd/uptane-hil -run TestCLI -ginkgo.focus='golden report' -count=1

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(OUT)
