# syntax=docker/dockerfile:1.7
#
# One image for the three binaries: `app` (the default command), `worker` and
# `scheduler`. docker-compose.prod.yml runs each from it.
#
#   docker build -t paqueteria \
#     --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
#     --build-arg SOURCE=https://github.com/<you>/paqueteria .
#
# Stages: chef (the toolchain and cargo-chef) → planner (the dependency
# recipe, from the manifests only) → builder (dependencies cooked in their
# own layer, rebuilt only when Cargo.toml/Cargo.lock change; then our
# crates) → runtime (distroless: glibc, CA certificates and tzdata, no
# shell, no package manager, user nonroot 65532).

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION
RUN cargo install --locked cargo-chef --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# .cargo/config.toml sets LIBSQLITE3_FLAGS for the bundled SQLite: the
# dependencies must be cooked with it, or the real build rebuilds them.
COPY .cargo .cargo
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo chef cook --release --locked --recipe-path recipe.json \
      -p paqueteria-app -p paqueteria-worker -p paqueteria-scheduler
COPY . .
# The revision the binaries report in paqueteria_build_info.
ARG REVISION=unknown
ENV PAQUETERIA_REVISION=${REVISION}
# Then the directories the compose file mounts named volumes on: a new
# volume takes the image's ownership, so the non-root user can write to it.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked \
      -p paqueteria-app -p paqueteria-worker -p paqueteria-scheduler \
 && mkdir -p /out/bin \
 && cp target/release/app target/release/worker target/release/scheduler /out/bin/ \
 && mkdir -p /out/var/lib/paqueteria/data /out/var/lib/paqueteria/files \
      /out/var/lib/paqueteria/scheduler

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/OWNER/paqueteria
LABEL org.opencontainers.image.title="paqueteria" \
      org.opencontainers.image.description="Paquetería: parcel management with a background job engine (app, worker, scheduler)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.documentation="${SOURCE}/blob/main/docs/deploy.md"
COPY --from=builder /out/bin/ /usr/local/bin/
COPY --from=builder --chown=65532:65532 /out/var/lib/paqueteria /var/lib/paqueteria
USER 65532:65532
WORKDIR /var/lib/paqueteria
ENV DATA_DIR=/var/lib/paqueteria/data \
    FILES_DIR=/var/lib/paqueteria/files \
    APP_ADDR=0.0.0.0:8000 \
    LOG_FORMAT=json
EXPOSE 8000 9101 9102
# The binary checks itself (no curl in the image): `app healthcheck` asks
# the app's /health/ready on APP_ADDR's port and exits 0 or 1. The worker
# and scheduler services override this with `worker healthcheck` and
# `scheduler healthcheck` (their /health on the metrics address).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["app", "healthcheck"]
CMD ["app"]
