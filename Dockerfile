# Herald's container image: a static binary on distroless, run as a
# non-root user, with its SQLite database in the /data volume.
#
#   docker build --build-arg VERSION=1.2.3 -t herald:1.2.3 .
#   docker run -d -p 8080:8080 -v herald-data:/data herald:1.2.3
#
# See docs/operations.md for secrets, upgrades and PostgreSQL.

# The Go release go.mod asks for.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/heraldhq/herald.Version=${VERSION}" \
      -o /out/herald ./cmd/herald \
 && /out/herald version \
 && mkdir /out/data

# distroless/static: CA certificates (HTTPS webhooks) and time zones, no
# shell, no package manager; "nonroot" is uid and gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/herald /usr/local/bin/herald
# The volume's mount point, owned by the user Herald runs as: a new named
# volume starts with this ownership.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# The working directory puts the default database, herald.db, and its key
# in the volume: /data/herald.db. No HERALD_DATABASE here, as an image's
# variable cannot be removed by docker run, and HERALD_DATABASE_FILE (a
# PostgreSQL URL from a secret) needs it unset.
WORKDIR /data
ENV HERALD_ADDR=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
# No curl in the image: the binary asks GET /api/v1/ready itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/herald", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["serve"]
