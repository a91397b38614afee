# syntax=docker/dockerfile:1
# Amistio's server image: one image, two roles (AMISTIO_ROLE=web or worker; see compose.yaml and
# docs/deploy.md). It was written and linted on a machine with no Docker engine and has not been built
# there: build it once and run `docker run --rm amistio node --version` before relying on it.
#
#   docker build -t amistio .
#
# Secrets never enter the image: the App's id, key and webhook secret come from the environment (an
# env file) or a mounted file (PRIVATE_KEY_PATH) at run time.

ARG NODE_IMAGE=node:24-slim

# --- Tools to compile better-sqlite3, in case its prebuilt binary cannot be downloaded -------------
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# --- Production dependencies only ----------------------------------------------------------------
FROM toolchain AS deps
COPY package.json package-lock.json ./
# The workspaces' manifests: npm ci installs their dependencies too (the server needs the contract's).
COPY packages/contract/package.json ./packages/contract/
COPY packages/runner/package.json ./packages/runner/
# --ignore-scripts: the postinstall runs the Prisma CLI (a dev dependency) to generate the client,
# which the build stage does instead; only better-sqlite3's native build is needed here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3 \
  && rm -rf node_modules/better-sqlite3/build/Release/obj* node_modules/better-sqlite3/build/Release/.deps \
    node_modules/better-sqlite3/build/Release/test_extension.node \
  && npm cache clean --force

# --- Build: generate the Prisma clients and compile TypeScript to dist/ ---------------------------
FROM toolchain AS build
COPY package.json package-lock.json ./
COPY packages/contract/package.json ./packages/contract/
COPY packages/runner/package.json ./packages/runner/
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The build compiles the contract into dist/node_modules/@amistio/contract, which the runtime loads.
COPY packages/contract ./packages/contract
RUN npm run build

# --- Runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=file:/app/data/amistio.db \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Migrations are applied at start, from ./prisma under the working directory.
COPY prisma/migrations ./prisma/migrations
COPY prisma/postgres/migrations ./prisma/postgres/migrations
COPY package.json ./
# The SQLite file (single-machine use) and the generated session key live in /app/data, owned by
# the unprivileged user the server runs as.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
# The web role answers GET /healthz on PORT; the worker role listens on no port, so there is nothing
# to ask and the check passes while the process runs (compose.yaml turns it off for workers).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "if (process.env.AMISTIO_ROLE === 'worker') process.exit(0); fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]
# The same flags as `npm start`, without its build step (dist/ is built above).
CMD ["node", "--max-semi-space-size=2", "--single-threaded-gc", "--max-old-space-size=512", "--enable-source-maps", "dist/main.js"]
