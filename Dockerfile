# One image for every Tessera service; the first argument picks which one runs:
#   docker build -t tessera .
#   docker run tessera pd --help        docker run tessera store --help        docker run tessera ctl --help
# Services run their TypeScript source through tsx (docs/architecture.md), so the image holds the source,
# the production node_modules and the protocol code generated in the build stage.

# ---- build: every dependency, so `npm run gen` can run buf and ts-proto ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY buf.yaml buf.gen.yaml ./
COPY proto ./proto
COPY scripts/gen-proto.mjs ./scripts/gen-proto.mjs
RUN npm run gen

# ---- runtime: production dependencies only (tsx included), source, generated code ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY services ./services
COPY --from=build /app/services/libs/proto/gen ./services/libs/proto/gen
COPY scripts/docker-entrypoint.sh /usr/local/bin/tessera

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it, owning the data directory that
# volumes are mounted on (a fresh named volume copies this ownership).
RUN groupadd --system --gid 10001 tessera \
  && useradd --system --uid 10001 --gid tessera --home-dir /var/lib/tessera --no-create-home tessera \
  && mkdir -p /var/lib/tessera \
  && chown tessera:tessera /var/lib/tessera \
  && chmod 0755 /usr/local/bin/tessera
USER 10001:10001

# Container defaults: listen on every interface (peers reach the container by its name) and keep data
# under /var/lib/tessera. Flags given to `docker run` override these, as they override any setting.
ENV TESSERA_PD_LISTEN_HOST=0.0.0.0 \
  TESSERA_PD_DATA_DIR=/var/lib/tessera/pd \
  TESSERA_STORE_SERVER_ADDR=0.0.0.0:20160 \
  TESSERA_STORE_SERVER_STATUS_ADDR=0.0.0.0:20180 \
  TESSERA_STORE_DATA_DIR=/var/lib/tessera/store

# pd: gRPC 2379, HTTP API and status 2378. tikv-store: gRPC 20160, status 20180.
EXPOSE 2379 2378 20160 20180
ENTRYPOINT ["tessera"]
CMD ["--help"]
