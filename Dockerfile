# The uptane-hil container image: the static binary (CGO_ENABLED=0) on an
# empty base, with the rigs and scenarios of this tree under /suite (mount
# your own over /suite/rigs or /suite/scenarios to run others). Used by the
# Kubernetes Job in deploy/k8s and the CI example in docs/scale.md.
#
#   docker build -t uptane-hil:0.1.0 .
#   docker run --rm -v "$PWD/out:/out" uptane-hil:0.1.0 run --out /out --shard 1/2
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /uptane-hil ./cmd/uptane-hil
# scratch has no /tmp and no writable folders: make the ones the tool uses.
RUN mkdir -p /rootfs/tmp /rootfs/out /rootfs/suite && chmod 1777 /rootfs/tmp && chown 65532:65532 /rootfs/out \
 && cp -r rigs scenarios /rootfs/suite/

FROM scratch
COPY --from=build /uptane-hil /uptane-hil
COPY --from=build /rootfs/ /
WORKDIR /suite
USER 65532:65532
ENV TMPDIR=/tmp
ENTRYPOINT ["/uptane-hil"]
CMD ["run", "--out", "/out"]
