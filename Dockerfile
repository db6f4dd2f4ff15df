# The netpol-conformance image: the Sonobuoy plugin's entrypoint and prober
# agent (`netpol-conformance`) and the compiled Ginkgo suite (`netpol-suite`).
# Both are static Go binaries built before the image (see .ci/sonobuoy.sh or
# `netpol-conformance local load-images`):
#
#   CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o _output/image/netpol-conformance ./cmd/netpol-conformance
#   CGO_ENABLED=0 go test -c -trimpath -ldflags '-s -w' -o _output/image/netpol-suite ./suite
#
# so the image needs no toolchain and no registry to build:
#
#   buildah bud --build-arg BASE=scratch -t localhost/netpol-conformance:local .
#
# BASE defaults to an empty image; pass e.g. gcr.io/distroless/static:nonroot
# for CA certificates and /etc/passwd. Nothing here needs them: the suite
# talks to the API server with the service account's CA, and the pods give it
# a writable /tmp (plugin.yaml).
ARG BASE=scratch
FROM ${BASE}

COPY _output/image/netpol-conformance _output/image/netpol-suite /

# Non-root, as Pod Security "restricted" requires of the agent pods that run
# this image too. 65532 is the conventional "nonroot" uid of static images.
USER 65532:65532
ENV HOME=/tmp
ENTRYPOINT ["/netpol-conformance"]
CMD ["plugin", "run"]
