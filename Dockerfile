# syntax=docker/dockerfile:1.7
#
# aura-operator container image.
#
#   docker build -t aura-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Stage 1 builds the release binary exactly as `make build` does
# (`cargo build --release --locked`); stage 2 copies that one file onto a
# distroless glibc base (the binary links glibc dynamically: rustls with
# aws-lc-rs). No shell, no package manager, numeric non-root user.
#
# A Docker-free check of the same runtime contract (env -i, read-only empty
# working directory, uid 65532, probes, SIGTERM) is tests/runtime_image.rs.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src

# The manifest, the lock file and every target the manifest declares
# (benches/ too: cargo refuses a manifest whose declared targets are missing).
# The registry and target folders are BuildKit cache mounts, so rebuilds only
# recompile what changed.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin aura-operator \
    && install -D -m 0755 target/release/aura-operator /out/aura-operator

# Runtime: glibc + CA certificates + /etc/passwd entry for nonroot (65532).
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# Where the source lives, e.g. --build-arg SOURCE=https://<your forge>/aura-operator
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="aura-operator" \
      org.opencontainers.image.description="Kubernetes operator that provisions Neo4j Aura databases from AuraInstance objects" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="aura-operator" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build --chown=0:0 /out/aura-operator /usr/local/bin/aura-operator

# Numeric, so that runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
WORKDIR /
# Admin server: /healthz, /readyz, /metrics.
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/aura-operator"]
CMD ["run"]
