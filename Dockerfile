# syntax=docker/dockerfile:1
# The kto image: one binary (`kto`) for both the controller and the node agent.
#
# NOT BUILT HERE: the project's machines have no Docker engine (no container runtime can be
# installed on them), so this file is exercised only by hack/e2e-kind.sh on a machine with Docker.
#
#   docker build -t kubelet-tracing-operator:dev .
#   docker run --rm kubelet-tracing-operator:dev validate --help
#
# The controller runs as the non-root user 65532 set below; the chart's agent DaemonSet overrides
# it with runAsUser: 0 + privileged (it restarts the kubelet through nsenter; docs/security.md).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript to dist/ ------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# `npm ci` runs the prepare script (tsc), so the sources must be in place first.
RUN npm ci --no-audit --no-fund && npm run build

# ---- runtime: production dependencies + dist/ + bin/ -----------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, which is a dev dependency and not installed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
# nsenter (util-linux) is in the base image: the agent runs `nsenter -t 1 -m -- systemctl ...`,
# and systemctl itself is the host's (it runs in the host's mount namespace).
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nonroot \
 && command -v nsenter >/dev/null
USER 65532:65532
LABEL org.opencontainers.image.title="kubelet-tracing-operator" \
      org.opencontainers.image.description="Rolls out kubelet tracing (KEP-2831) across a Kubernetes cluster" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["node", "/app/bin/kto.js"]
CMD ["--help"]
