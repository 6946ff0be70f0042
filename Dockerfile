# syntax=docker/dockerfile:1
# One image with the three hzhook binaries: receiver, worker and hzctl in /usr/local/bin.
# Static (CGO_ENABLED=0), reproducible paths (-trimpath), no symbol tables (-ldflags '-s -w'):
# the same flags as `make build`, which CI runs where no Docker engine exists.
#
#   docker build -t hzhook .
#   docker run --rm hzhook receiver --help      # the default command is receiver --help
#   docker run --rm hzhook worker --help

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags '-s -w' -o /out/ ./cmd/...

# distroless static: CA certificates and tzdata, no shell, no package manager; user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="hzhook" \
      org.opencontainers.image.description="Hardenize event receiver, workers and operator CLI" \
      org.opencontainers.image.source="https://github.com/hzhook/hzhook"
COPY --from=build /out/receiver /out/worker /out/hzctl /usr/local/bin/
USER 65532:65532
# 8080 webhook, 9090 receiver admin, 9091 worker admin (metrics, health, API).
EXPOSE 8080 9090 9091
CMD ["receiver", "--help"]
