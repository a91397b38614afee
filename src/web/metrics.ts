import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Metrics } from "../metrics/amistio-metrics.ts";

export interface MetricsRouteOptions {
  /** Built once per process in index.ts (src/metrics/amistio-metrics.ts). */
  metrics: Pick<Metrics, "registry">;
  /** The bearer token a scraper sends; without one the route does not exist (404). */
  token: string | undefined;
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * `GET /metrics` in Prometheus' text format, for a scraper that holds AMISTIO_METRICS_TOKEN; served
 * by web processes on their port and by workers on AMISTIO_WORKER_PORT.
 */
export async function metricsRoute(app: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  const { metrics, token } = options;
  if (!token) return;
  app.get("/metrics", async (request, reply) => {
    const given = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.authorization ?? "")?.[1];
    if (given === undefined || !sameSecret(given, token)) {
      request.log.warn(
        { status: 401, url: request.url, reason: given === undefined ? "no bearer token" : "wrong token" },
        "metrics refused: send Authorization: Bearer <AMISTIO_METRICS_TOKEN>",
      );
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="metrics"')
        .send({ error: "a bearer token is required (AMISTIO_METRICS_TOKEN)" });
    }
    const text = await metrics.registry.metrics();
    return reply.header("content-type", metrics.registry.contentType).header("cache-control", "no-store").send(text);
  });
}
