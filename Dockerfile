# syntax=docker/dockerfile:1
#
# Both images of Tekton Large Results, from one build of one lockfile (so they can never disagree about the code):
#
#   docker build --target tlr      -t ghcr.io/tekton-large-results/tlr:v0.1.0 .
#   docker build --target tlr-init -t ghcr.io/tekton-large-results/tlr-init:v0.1.0 .
#
#   tlr       `node dist/src/cli/main.js`: the tlr CLI; runs `tlr controller` and `tlr webhook` (config/400-*.yaml).
#   tlr-init  `node dist/init/main.js`: runs in Tekton pods as the tlr-prepare / tlr-seal steps and the
#             tlr-substitute init container. The rewrite gives those steps `command: [tlr-init]`, so the image also
#             has an executable `tlr-init` on its PATH.
#
# Both run on distroless Node 24 (no shell, no package manager) as the numeric non-root user 65532. The build stage
# uses Debian (glibc), not Alpine: `npm ci` installs the `node` devDependency, which downloads a glibc Node binary for
# the npm scripts. That package, TypeScript and every other devDependency are pruned before anything is copied out.

ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first, so this layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY init ./init
# .dockerignore keeps test/ out of the context, so only dist/src and dist/init are built.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# The tlr image's tree: the CLI and every production dependency (without their source maps and type declarations,
# about 40% of node_modules). The last line loads the CLI from this tree alone.
RUN mkdir -p /out/tlr/app/dist \
 && cp package.json /out/tlr/app/ \
 && cp -R dist/src /out/tlr/app/dist/src \
 && cp -R node_modules /out/tlr/app/node_modules \
 && find /out/tlr/app/node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) \
      -delete \
 && node /out/tlr/app/dist/src/cli/main.js --help >/dev/null

# The tlr-init image's tree: only what dist/init/main.js imports. Today that is dist/init, three dist/src modules
# (`grep -h "from '\.\./src" init/*.ts`) and one production package (commander, which has no dependencies of its
# own). The last line loads the whole static import graph from this tree alone, so a new import that is not copied
# here fails the build instead of a pod.
RUN mkdir -p /out/tlr-init/app/dist/src/api /out/tlr-init/app/dist/src/core /out/tlr-init/app/node_modules \
    /out/tlr-init/usr/local/bin \
 && cp package.json /out/tlr-init/app/ \
 && cp -R dist/init /out/tlr-init/app/dist/init \
 && cp dist/src/errors.js /out/tlr-init/app/dist/src/ \
 && cp dist/src/api/names.js /out/tlr-init/app/dist/src/api/ \
 && cp dist/src/core/reference.js /out/tlr-init/app/dist/src/core/ \
 && cp -R node_modules/commander /out/tlr-init/app/node_modules/commander \
 && find /out/tlr-init/app/dist -name '*.map' -delete \
 && sed -i '1s|^#!.*$|#!/nodejs/bin/node|' /out/tlr-init/app/dist/init/main.js \
 && chmod 0755 /out/tlr-init/app/dist/init/main.js \
 && ln -s /app/dist/init/main.js /out/tlr-init/usr/local/bin/tlr-init \
 && node /out/tlr-init/app/dist/init/main.js --help >/dev/null

# ---------------------------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS tlr-init
LABEL org.opencontainers.image.title="tlr-init" \
      org.opencontainers.image.description="Tekton Large Results: prepares, seals and substitutes results in Tekton pods" \
      org.opencontainers.image.licenses="Apache-2.0"
# /usr/local/bin/tlr-init is a symlink to /app/dist/init/main.js, whose first line is `#!/nodejs/bin/node`
# (distroless has no /usr/bin/env); Node follows the symlink, so /app/package.json makes the file an ES module.
COPY --from=build --chown=0:0 /out/tlr-init/ /
ENV PATH=/usr/local/bin:/nodejs/bin:/usr/bin:/bin \
    NODE_ENV=production
WORKDIR /app
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/init/main.js"]

# ---------------------------------------------------------------------------------------------------------------------
# Last, so a plain `docker build .` produces the main image.
FROM ${RUNTIME_IMAGE} AS tlr
LABEL org.opencontainers.image.title="tlr" \
      org.opencontainers.image.description="Tekton Large Results: the tlr CLI, controller and admission webhook" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build --chown=0:0 /out/tlr/ /
ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin \
    NODE_ENV=production
WORKDIR /app
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/src/cli/main.js"]
