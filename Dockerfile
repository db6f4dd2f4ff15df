# The netpol-conformance image: the Sonobuoy plugin's entrypoint
# (`netpol-conformance`), the prober agent its pods run (`netpol-agent`, a
# few MB without client-go) and the compiled Ginkgo suite (`netpol-suite`),
# compiled from this checkout. Any builder works from a clean clone:
#
#   docker build -t REGISTRY/netpol-conformance:TAG .
#   podman build -t REGISTRY/netpol-conformance:TAG .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/netpol-conformance:TAG --push .
#
# BUILDER is the Go toolchain image (any with Go >= the go.mod's version);
# where no registry is reachable, pass a locally assembled one. The local
# cluster (`netpol-conformance local load-images`) builds the same final
# image in Go, without an image builder (localcluster/images.Plugin; a test
# keeps the two equal).
ARG BUILDER=golang:1.26
ARG BASE=scratch

FROM --platform=$BUILDPLATFORM ${BUILDER} AS build
ARG TARGETOS=linux
ARG TARGETARCH
# VERSION names the build in every report (a test binary carries no VCS
# stamp of its own), e.g. --build-arg VERSION=$(git describe --always --dirty).
ARG VERSION=devel
WORKDIR /src
COPY go.mod go.sum ./
RUN GOSUMDB=off go mod download
COPY . .
RUN mkdir /out && \
    X="-X github.com/netpol-conformance/netpol-conformance/internal/version.version=${VERSION}" && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w $X" -o /out/netpol-conformance ./cmd/netpol-conformance && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w $X" -o /out/netpol-agent ./cmd/netpol-agent && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go test -c -trimpath -ldflags "-s -w $X" -o /out/netpol-suite ./suite

# BASE defaults to an empty image: nothing here needs a shell, CA
# certificates or /etc/passwd (the suite talks to the API server with the
# service account's CA; the pods give it a writable /tmp).
FROM ${BASE}
COPY --from=build /out/netpol-conformance /out/netpol-agent /out/netpol-suite /
# Non-root, as Pod Security "restricted" requires of the agent pods that run
# this image too. 65532 is the conventional "nonroot" uid of static images.
USER 65532:65532
ENV HOME=/tmp
ENTRYPOINT ["/netpol-conformance"]
CMD ["plugin", "run"]
