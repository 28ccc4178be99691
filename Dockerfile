# gemscan as a container image: a static binary on a minimal base, run as a
# non-root user. `gemscan git` reads repositories directly and needs no git
# binary, so none is installed. The base has a POSIX shell because GitLab CI
# and Jenkins run their job scripts inside the image.
#
#   docker build -t gemscan .
#   docker run --rm -v "$PWD:/repo" gemscan git /repo
#
# The release workflow builds this file for linux/amd64 and linux/arm64 and
# publishes it as ghcr.io/gemscan-dev/gemscan:<version> and :latest.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS TARGETARCH
ARG VERSION=devel COMMIT= DATE=
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -tags urfave_cli_no_docs \
      -ldflags "-s -w -buildid= -X main.buildVersion=${VERSION} -X main.buildCommit=${COMMIT} -X main.buildDate=${DATE}" \
      -o /out/gemscan ./cmd/gemscan

FROM alpine:3.22
RUN adduser -D -H -u 10001 gemscan
COPY --from=build /out/gemscan /usr/local/bin/gemscan
USER 10001:10001
WORKDIR /repo
ENTRYPOINT ["/usr/local/bin/gemscan"]
CMD ["--help"]
