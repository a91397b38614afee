import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Probot, ProbotOctokit } from "probot";
import { createRepositoryPermission } from "./approvals/repository-permission.ts";
import { loadWebKeys } from "./auth/load-web-keys.ts";
import type { CommandServices } from "./commands/command-context.ts";
import { handleCommands } from "./commands/handle-commands.ts";
import type { AppEnv } from "./config/env.ts";
import { readWebSettings } from "./config/read-web-settings.ts";
import { createDatabase, type Database } from "./db/create-database.ts";
import { createProbot } from "./github/create-probot.ts";
import { createWritePacer } from "./github/write-pacer.ts";
import { indexOnPush, indexRepositoryJob } from "./indexing/index-ahead.ts";
import { createMetrics, type Metrics } from "./metrics/amistio-metrics.ts";
import { createPlannerChooser } from "./planning/choose-planner.ts";
import { type RetentionTimer, startRetention } from "./privacy/start-retention.ts";
import { createQueue } from "./queue/create-queue.ts";
import type { JobQueue } from "./queue/job-queue.ts";
import { JOBS, jobHandlers } from "./queue/jobs.ts";
import { createRuns } from "./runs/create-runs.ts";
import { requeueStrandedDispatches } from "./runs/requeue-stranded-dispatches.ts";
import { createServer } from "./web/create-server.ts";
import { metricSources } from "./web/metric-sources.ts";
import { createWorkerServer } from "./web/worker-server.ts";
import { deliverWebhook } from "./webhooks/deliver-webhook.ts";
import { createDeliverySweeper } from "./webhooks/delivery-sweeper.ts";
import { HANDLED_EVENTS } from "./webhooks/handled-events.ts";
import { syncInstallation } from "./workspaces/sync-installation.ts";

export interface AmistioOptions {
  env: AppEnv;
  logger: Logger;
  /** Tests inject an Octokit class (retries and throttling off) and a token instead of App auth. */
  Octokit?: typeof ProbotOctokit;
  githubToken?: string;
  /** The delivery sweeper's interval and grace (default 30 s each); the fault benchmark shortens them. */
  sweeper?: { intervalMs?: number; graceMs?: number };
}

export interface Amistio {
  server: FastifyInstance;
  /** A worker's own port (/healthz, /readyz, /metrics); listens only with AMISTIO_ROLE=worker. */
  workerServer: FastifyInstance;
  metrics: Metrics;
  database: Database;
  queue: JobQueue;
  probot: Probot;
  /** Listens (web role) and works jobs (worker role); resolves to the listening address. */
  start(): Promise<string | undefined>;
  /** Stops taking work, lets running jobs finish or releases them, then closes everything. */
  stop(graceMs?: number): Promise<void>;
}

/** Wiring only: build the clients, register the handlers. */
export async function createAmistio(options: AmistioOptions): Promise<Amistio> {
  const { env, logger } = options;
  if (!env.WEBHOOK_SECRET) throw new Error("WEBHOOK_SECRET is required to serve webhooks");
  const database = await createDatabase({ url: env.DATABASE_URL });
  const { db, store } = database;
  const queue = await createQueue({
    redisUrl: env.REDIS_URL,
    store,
    logger: logger.child({ component: "queue" }),
  });
  // The process's one metrics object: handed to everything that records, served at /metrics.
  const metrics = createMetrics({
    sources: metricSources({ db, queue }),
    knownEvents: HANDLED_EVENTS,
    knownJobs: Object.keys(JOBS),
  });
  // GitHub writes are paced per installation, jointly across processes when Redis is configured.
  const pacer = await createWritePacer({ redisUrl: env.REDIS_URL });
  const probot = createProbot({
    env,
    logger,
    pacer,
    metrics,
    Octokit: options.Octokit,
    githubToken: options.githubToken,
  });
  const services: CommandServices = {
    db,
    queue,
    env,
    plannerFor: createPlannerChooser({ env, logger, metrics }),
    repositoryPermission: createRepositoryPermission(),
    metrics,
  };
  const runs = createRuns({ env, db, queue, logger, probot });
  await probot.load((app) => {
    syncInstallation(app, { db, queue });
    indexOnPush(app, { db, queue });
    handleCommands(app, services);
    runs.follow(app);
  });
  // Every process sweeps (one at a time across them): a stored delivery without a job is queued
  // again, and so is a run waiting for a dispatch job that the queue lost.
  const sweeper = createDeliverySweeper({
    db,
    store,
    queue,
    logger,
    provider: database.target.provider,
    requeueStranded: (cutoff) => requeueStrandedDispatches({ db, queue, logger, cutoff }),
    ...options.sweeper,
  });
  // Every job in src/queue/jobs.ts, each input checked against its schema; a missing one fails the start.
  const handlers = jobHandlers(
    {
      "webhook.deliver": deliverWebhook({ db, store, probot }),
      ...runs.jobHandlers,
      "repository.index": indexRepositoryJob({ db, probot, logger }),
    },
    { metrics },
  );
  const settings = readWebSettings(env);
  const server = await createServer({
    db,
    store,
    queue,
    logger,
    webhookPath: env.WEBHOOK_PATH,
    webhookSecret: env.WEBHOOK_SECRET,
    web: { settings, keys: loadWebKeys({ secret: settings.sessionSecret, dataDir: settings.dataDir }) },
    runner: runs.runnerApi,
    metricsToken: env.AMISTIO_METRICS_TOKEN,
    metrics,
  });
  const workerServer = await createWorkerServer({
    store,
    queue,
    logger,
    metrics,
    metricsToken: env.AMISTIO_METRICS_TOKEN,
  });
  const serves = env.AMISTIO_ROLE !== "worker";
  const works = env.AMISTIO_ROLE !== "web";
  let retention: RetentionTimer | undefined;

  return {
    server,
    workerServer,
    metrics,
    database,
    queue,
    probot,
    async start() {
      if (works) {
        await queue.startWorker(handlers, { concurrency: env.AMISTIO_QUEUE_CONCURRENCY });
        retention = startRetention({ db, logger, retentionDays: settings.retentionDays });
      }
      sweeper.start();
      if (!serves) {
        // A worker listens on a port of its own, for health checks and scraping only.
        const address = await workerServer.listen({ port: env.AMISTIO_WORKER_PORT, host: env.AMISTIO_WORKER_HOST });
        logger.info({ address }, "worker health and metrics port listening");
        return undefined;
      }
      return server.listen({ port: env.PORT, host: env.HOST });
    },
    async stop(graceMs = 10_000) {
      await server.close();
      await workerServer.close();
      await sweeper.stop();
      if (works) await queue.stopWorker(graceMs);
      await retention?.stop();
      await queue.close();
      await pacer.close();
      await database.close();
    },
  };
}
