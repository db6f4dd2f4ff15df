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
# where no registry is reachable, pass a locally assembled one, as
# `netpol-conformance local build-image` does (buildah, from this machine's
# Go toolchain). The RUN steps use cache mounts: Docker needs BuildKit (its
# default since 23.0). The local cluster (`local load-images`) builds the
# same final image in Go, without an image builder
# (localcluster/images.Plugin; a test keeps the two equal).
ARG BUILDER=golang:1.26
ARG BASE=scratch

FROM --platform=$BUILDPLATFORM ${BUILDER} AS build
ARG TARGETOS=linux
ARG TARGETARCH
# VERSION names the build in every report (a test binary carries no VCS
# stamp of its own), e.g. --build-arg VERSION=$(git describe --always --dirty).
ARG VERSION=devel
# The module and build caches are cache mounts: a rebuild after a change
# compiles only what changed (BuildKit, podman and buildah all keep them).
ENV GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod GOSUMDB=off go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    mkdir /out && \
    X="-X github.com/netpol-conformance/netpol-conformance/internal/version.version=${VERSION}" && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w $X" -o /out/netpol-conformance ./cmd/netpol-conformance && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w $X" -o /out/netpol-agent ./cmd/netpol-agent && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go test -c -trimpath -ldflags "-s -w $X" -o /out/netpol-suite ./suite

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
