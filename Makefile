# uptane-hil — see README.md.
#   make demo   the main job: the attack suite on the embedded bus, report in out/
#   make test   every test: host specs, short fuzzing, the TUF conformance suite,
#               and the vcan specs in a qemu VM
#   make bench  the benchmarks
#   make golden rewrite the golden report of the suite (cmd/uptane-hil/testdata)
GO       ?= go
GINKGO   := $(GO) tool ginkgo
OUT      ?= out
FUZZTIME ?= 10s

.PHONY: all build demo test test-host test-tuf test-vcan fuzz bench vet fmt clean golden aktualizr

all: build

build:
	$(GO) build ./...

demo:
	$(GO) run ./cmd/uptane-hil run --rig rigs/virtual.yaml --out $(OUT) scenarios/

test: vet test-host fuzz test-tuf test-vcan
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

# The public TUF conformance suite (theupdateframework/tuf-conformance, pinned in
# .ci/pinned-sources.txt) against `uptane-hil tuf-client`: all of it must pass, no
# CLIENT.xfails. .ci/pinned-source-test first proves the pinned trees' digests.
TUF_CLIENT := $(abspath $(OUT))/tuf/tuf-client
test-tuf:
	@mkdir -p $(OUT)/test $(OUT)/tuf
	.ci/pinned-source-test
	$(GO) build -o $(OUT)/tuf/uptane-hil ./cmd/uptane-hil
	@printf '#!/bin/sh\nexec "$$(dirname "$$0")/uptane-hil" tuf-client "$$@"\n' >$(TUF_CLIENT) && chmod +x $(TUF_CLIENT)
	.ci/tuf-conformance $(TUF_CLIENT) --junitxml=$(abspath $(OUT))/test/junit-tuf.xml

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
