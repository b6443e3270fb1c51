# The phase4-operator image: the operator built from source on Debian 12, the
# pinned helm next to it, and nothing else but what the binary needs (its
# shared libraries, the dynamic loader, CA certificates, a numeric non-root
# user). `make image` builds it without a Docker engine (hack/image, see
# docs/development.md); with one, from the repository's top directory:
#   docker build --build-arg HELM_VERSION=$(sed -n 's/^HELM_VERSION=//p' hack/versions.env) .
#
# Runtime contract (the chart's Deployment follows it):
#   - runs as 65532:65532 and needs no capability;
#   - the root filesystem may be read-only: everything the operator and helm
#     write goes under /tmp (--cache-dir defaults to /tmp/phase4-operator,
#     helm's homes are under it), so mount an emptyDir at /tmp;
#   - the operator is PID 1: it exits on SIGTERM after its grace period and
#     reaps orphaned processes itself (net/reaper), so no init is needed.

# --- the operator, from source ---------------------------------------------
FROM docker.io/library/debian:12 AS build
# The Makefile's PKGS, as Debian's -dev packages (hack/deps installs the same).
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gcc libc6-dev make binutils pkg-config ca-certificates \
        libcurl4-openssl-dev libyaml-dev libcjson-dev libuv1-dev libssl-dev zlib1g-dev \
        > /dev/null && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY hack/versions.env hack/
COPY include include
COPY controller controller
ARG VERSION=0.1.0-dev
RUN make -j"$(nproc)" build P4_VERSION="$VERSION" CFLAGS=-O2 && strip build/phase4-operator
# The final stage's root filesystem: the binary, the libraries ldd lists for
# it (the loader among them), CA certificates, and a passwd/group naming the
# non-root user.
RUN set -eu; out=/rootfs; \
    mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/tmp"; \
    chmod 1777 "$out/tmp"; \
    cp build/phase4-operator "$out/usr/local/bin/"; \
    for lib in $(ldd build/phase4-operator | grep -o '/[^ ]*'); do \
        cp -L --parents "$lib" "$out/"; \
    done; \
    cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' \
        > "$out/etc/passwd"; \
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$out/etc/group"

# --- helm, from its Go module ------------------------------------------------
FROM docker.io/library/golang:1.26-bookworm AS helm
# The default is hack/versions.env's (hack/image checks that they agree).
ARG HELM_VERSION=v3.19.5
# A Go module proxy and flags of your own, if any (empty: Go's defaults), and a
# CA bundle to trust for it (e.g. one mounted at build time; hack/image mounts
# the host's). Build arguments reach RUN as environment variables.
ARG GOPROXY=
ARG GOFLAGS=
ARG SSL_CERT_FILE=
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
COPY hack/helm-ldflags /usr/local/bin/
RUN export GOPROXY="${GOPROXY:-$(go env GOPROXY)}" GOFLAGS="$GOFLAGS" && \
    GOBIN=/out go install -trimpath -ldflags "-s -w $(helm-ldflags "$HELM_VERSION")" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" && \
    /out/helm version --short

# --- the image -----------------------------------------------------------------
FROM scratch
ARG VERSION=0.1.0-dev
ARG REVISION=unknown
# Where the source lives (hack/image passes the git remote, if any).
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="phase4-operator" \
      org.opencontainers.image.description="A Kubernetes operator that takes an image and a Helm chart through four gated stages" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"
COPY --from=build /rootfs/ /
# The operator runs the helm next to its own binary (see --helm-binary).
COPY --from=helm /out/helm /usr/local/bin/helm
ENV HOME=/tmp TMPDIR=/tmp PATH=/usr/local/bin \
    HELM_CACHE_HOME=/tmp/phase4-operator/helm/cache \
    HELM_CONFIG_HOME=/tmp/phase4-operator/helm/config \
    HELM_DATA_HOME=/tmp/phase4-operator/helm/data
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/phase4-operator"]
