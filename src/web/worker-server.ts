import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { Metrics } from "../metrics/amistio-metrics.ts";
import { type HealthRoutesOptions, healthRoutes } from "./health-routes.ts";
import { metricsRoute } from "./metrics.ts";

export interface WorkerServerOptions extends HealthRoutesOptions {
  logger: Logger;
  metrics: Metrics;
  /** AMISTIO_METRICS_TOKEN; absent, /metrics is not served (404), as on the web port. */
  metricsToken?: string;
}

/**
 * A worker's own small port (AMISTIO_WORKER_PORT, on 127.0.0.1 unless AMISTIO_WORKER_HOST says
 * otherwise): `/healthz`, `/readyz` and `/metrics`, nothing else. No body is ever read.
 */
export async function createWorkerServer(options: WorkerServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024,
    return503OnClosing: true,
  });
  await app.register(healthRoutes, { store: options.store, queue: options.queue });
  await app.register(metricsRoute, { metrics: options.metrics, token: options.metricsToken });
  return app;
}
