# syntax=docker/dockerfile:1
# dgf: multi-stage build; the runtime image holds only the compiled code, production dependencies and policy packs.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# A C toolchain for the native addons (src/audit/native, src/runtime/native; node-gyp builds them against this Node's headers).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts/build.sh scripts/build-native.sh ./scripts/
COPY src ./src
COPY protocols ./protocols
RUN DGF_REQUIRE_NATIVE=1 bash scripts/build.sh && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production DGF_CONFIG=/etc/dgf/dgf.yaml
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends tini curl && rm -rf /var/lib/apt/lists/* \
 && groupadd --system dgf && useradd --system --gid dgf --home /app dgf \
 && mkdir -p /var/lib/dgf/audit /etc/dgf && chown -R dgf:dgf /var/lib/dgf
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json dgf.example.yaml ./
COPY policies ./policies
USER dgf
# Postgres, MongoDB, Redis, Cosmos, Blob listeners and the admin API (SPEC "Ports").
EXPOSE 6432 27018 6380 8082 10010 8080
VOLUME ["/var/lib/dgf"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["start"]
