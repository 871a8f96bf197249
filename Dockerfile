# syntax=docker/dockerfile:1
#
# Switchyard's images, from one Dockerfile (docs/deployment.md):
#
#   docker build -t switchyard-gateway .           # target `gateway` (the default): compiled JS,
#                                                  # production dependencies; the gateway and the CLI
#   docker build --target app -t switchyard-app .  # the whole workspace with dev dependencies:
#                                                  # also runs the TypeScript demo through tsx
#
# Commands start `node` directly, never `npm start`: npm does not hand SIGTERM on to the
# program it runs, so `docker stop` would kill the process instead of letting it drain.

ARG NODE_IMAGE=node:20-bookworm-slim

# Every dependency, dev ones included (TypeScript, tsx). Only the manifests are copied, so
# this layer is rebuilt when a package.json or the lockfile changes, not on every edit.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY broker/package.json broker/
COPY sdk/package.json sdk/
COPY gateway/package.json gateway/
COPY cli/package.json cli/
RUN npm ci --no-audit --no-fund

# Compile the four packages to <package>/dist (tests and bench are not part of an image),
# and bundle the console.
FROM deps AS build
COPY tsconfig.base.json ./
COPY broker broker
COPY sdk sdk
COPY gateway gateway
COPY cli cli
RUN npx tsc -b broker sdk gateway cli
# The web console's bundle (served at /console on the admin listener, docs/console.md).
RUN npx vite build --config gateway/console/vite.config.ts

# Production dependencies only: no TypeScript, tsx, vitest or Biome in the gateway image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY broker/package.json broker/
COPY sdk/package.json sdk/
COPY gateway/package.json gateway/
COPY cli/package.json cli/
RUN npm ci --omit=dev --no-audit --no-fund

# The workspace as built, sources and dev dependencies included: the demo
# (`node --conditions=source --import tsx examples/demo/start.ts`), the CLI, the gateway.
FROM build AS app
COPY schemas schemas
COPY examples examples
USER node
EXPOSE 8080 9090
CMD ["node", "gateway/dist/main.js"]

# The gateway for production: what `node gateway/dist/main.js` and `node cli/dist/main.js`
# need and nothing else. Workspace packages are symlinks in node_modules/@switchyard, so
# each package keeps its place (package.json + dist) under /app.
FROM ${NODE_IMAGE} AS gateway
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY package.json ./
COPY broker/package.json broker/
COPY sdk/package.json sdk/
COPY gateway/package.json gateway/
COPY cli/package.json cli/
COPY --from=build /app/broker/dist broker/dist
COPY --from=build /app/sdk/dist sdk/dist
COPY --from=build /app/gateway/dist gateway/dist
COPY --from=build /app/gateway/console/dist gateway/console/dist
COPY --from=build /app/cli/dist cli/dist
# Files `switchyard new service` copies (the Python service template).
COPY --from=build /app/cli/templates cli/templates
# Request schemas the routes name (SWITCHYARD_SCHEMAS defaults to ./schemas when it exists).
COPY schemas schemas
USER node
EXPOSE 8080 9090
CMD ["node", "gateway/dist/main.js"]
