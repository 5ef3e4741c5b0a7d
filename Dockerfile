# syntax=docker/dockerfile:1
# The kto image: one binary (`kto`) for both the controller and the node agent.
#
# NOT BUILT HERE: the project's machines have no Docker engine (no container runtime can be
# installed on them), so this file is exercised only by hack/e2e-kind.sh on a machine with Docker.
#
#   docker build -t kubelet-tracing-operator:dev .
#   docker run --rm kubelet-tracing-operator:dev --version
#
# Multi-arch: every production dependency is plain JavaScript (no native addon, no install-time
# build; test/core/package.test.ts checks it), so the compile and `npm ci` stages run once on the
# build machine's own platform ($BUILDPLATFORM) and only the runtime stage is per architecture:
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/kubelet-tracing-operator:TAG --push .
#
# Node.js 24: the Active LTS line (supported until April 2028), which CI tests alongside Node 20
# (.ci/run). Node 20 reached end of life in April 2026; 22 is in maintenance only until April 2027.
#
# The controller runs as the non-root user 65532 set below (the chart sets no UID, so OpenShift's
# restricted SCC can assign one); the chart's agent DaemonSet overrides it with runAsUser: 0 +
# privileged (it restarts the kubelet through nsenter; docs/security.md).

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript to dist/ (architecture-independent) ---------------------------
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# --ignore-scripts: one explicit build instead of `prepare`'s; esbuild (tsx's, a dev dependency)
# needs no install script either.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run build

# ---- deps: production node_modules (plain JavaScript, so the same for every architecture) -----
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, a dev dependency not installed here; no production
# dependency needs an install script (protobufjs's only checks its own version).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime: per target architecture; nothing is compiled or installed here ---------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
# The OTLP .proto files the embedded receiver loads (kto demo), and the CRD.
COPY proto ./proto
COPY crds ./crds
# nsenter (util-linux) is in the base image: the agent runs `nsenter -t 1 -m -- systemctl ...`,
# and systemctl itself is the host's (it runs in the host's mount namespace).
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nonroot \
 && command -v nsenter >/dev/null
USER 65532:65532
LABEL org.opencontainers.image.title="kubelet-tracing-operator" \
      org.opencontainers.image.description="Rolls out kubelet tracing (KEP-2831) across a Kubernetes cluster" \
      org.opencontainers.image.source="https://github.com/nodetracing/kubelet-tracing-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["node", "/app/bin/kto.js"]
CMD ["--help"]
