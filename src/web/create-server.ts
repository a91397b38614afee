import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { Db } from "../db/create-database.ts";
import type { DeliveryJobStore } from "../db/delivery-job-store.ts";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import type { JobQueue } from "../queue/job-queue.ts";
import { type RunnerApiOptions, runnerApi } from "../runs/runner-api.ts";
import { createDeliveryRecorder } from "../webhooks/delivery-recorder.ts";
import { type WebhookCounters, webhookRoute } from "../webhooks/webhook-route.ts";
import { healthRoutes } from "./health-routes.ts";
import { metricsRoute } from "./metrics.ts";
import { type WebAppOptions, webApp } from "./web-app.ts";

export interface CreateServerOptions {
  db: Db;
  store: DeliveryJobStore;
  queue: JobQueue;
  logger: Logger;
  webhookPath: string;
  webhookSecret: string;
  /** The web pages and sign-in; without it the server answers webhooks and health checks only. */
  web?: Omit<WebAppOptions, "db" | "logger">;
  /** The API `amistio-runner` calls from workflow jobs (OIDC-authenticated); absent, it is not served. */
  runner?: RunnerApiOptions;
  /** AMISTIO_METRICS_TOKEN: the bearer token for GET /metrics; absent, /metrics is not served. */
  metricsToken?: string;
  /** The process's metrics (built in index.ts): intake records into them, /metrics serves them. */
  metrics: Metrics;
}

/** The one HTTP server: webhook intake, health checks, and the web pages. */
export async function createServer(options: CreateServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Each request gets exactly one line, written by the route that knows what happened.
    logController: new LogController({ disableRequestLogging: true }),
    // The webhook route sets its own larger limit; everything else stays small.
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error, url: request.url }, "request failed");
    else request.log.warn({ status, code: error.code, url: request.url }, error.message);
    const message =
      error.code === "FST_ERR_CTP_BODY_TOO_LARGE"
        ? "body too large: GitHub webhook payloads are at most 25 MB"
        : status >= 500
          ? "internal error"
          : error.message;
    return reply.code(status).send({ error: message });
  });

  const webhookCounters: WebhookCounters = { accepted: 0, duplicate: 0, ignored: 0, rejected: 0 };
  app.decorate("webhookCounters", webhookCounters);

  const { metrics } = options;
  await app.register(healthRoutes, { store: options.store, queue: options.queue });
  await app.register(metricsRoute, { metrics, token: options.metricsToken });

  await app.register(webhookRoute, {
    path: options.webhookPath,
    counters: webhookCounters,
    metrics,
    secret: options.webhookSecret,
    store: options.store,
    recorder: createDeliveryRecorder({
      db: options.db,
      store: options.store,
      queue: options.queue,
      logger: options.logger,
    }),
  });
  if (options.web) await app.register(webApp, { ...options.web, db: options.db, logger: options.logger });
  if (options.runner) await app.register(runnerApi, options.runner);
  return app;
}

declare module "fastify" {
  interface FastifyInstance {
    webhookCounters: WebhookCounters;
  }
}
