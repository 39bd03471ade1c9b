# uptane-hil — see README.md.
#   make demo   the main job: the attack suite on the embedded bus, report in out/
#   make test   every test: host specs, short fuzzing, and the vcan specs in a qemu VM
#   make bench  the benchmarks
GO       ?= go
GINKGO   := $(GO) tool ginkgo
OUT      ?= out
FUZZTIME ?= 10s

.PHONY: all build demo test test-host test-vcan fuzz bench vet fmt clean aktualizr

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

# The host specs include the aktualizr interop specs (label aktualizr): the
# real aktualizr-secondary, built once by .ci/aktualizr-build (cached outside
# the clone), over loopback TCP. A missing binary fails them here.
test-host: aktualizr
	@mkdir -p $(OUT)/test
	UPTANE_HIL_REQUIRE_AKTUALIZR=1 UPTANE_HIL_AKTUALIZR_BIN=$$(.ci/aktualizr-build | tail -n 1) \
	$(GINKGO) -r --label-filter='!vcan' --keep-going --timeout=40m \
		--junit-report=junit-host.xml --output-dir=$(OUT)/test ./...

aktualizr:
	.ci/aktualizr-build

fuzz:
	FUZZTIME=$(FUZZTIME) .ci/fuzz-short

test-vcan:
	.ci/vm/run-vcan-tests

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(OUT)
