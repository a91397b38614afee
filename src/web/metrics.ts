import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Registry } from "prom-client";
import type { Db } from "../db/create-database.ts";
import { isHandledEvent } from "../webhooks/handled-events.ts";
import type { WebhookOutcome } from "../webhooks/webhook-route.ts";

/**
 * What the server counts, in Prometheus' terms. A registry of its own (not prom-client's global one),
 * so two servers in one process (tests) never share or clash over a metric.
 */
export function createMetrics(options: { db?: Db } = {}) {
  const registry = new Registry();
  const { db } = options;
  if (db) {
    // Read from the database at scrape time: a delivery may fail in any worker process, and the
    // database is the one place that knows them all.
    new Gauge({
      name: "amistio_webhook_deliveries_unfinished",
      help: "Webhook deliveries not handled: failed for good (until replayed or purged), or still retrying.",
      labelNames: ["status"] as const,
      registers: [registry],
      async collect() {
        const rows = await db.webhookDelivery.groupBy({
          by: ["status"],
          where: { status: { in: ["failed", "retrying"] } },
          _count: { _all: true },
        });
        this.reset();
        for (const status of ["failed", "retrying"]) {
          this.set({ status }, rows.find((row) => row.status === status)?._count._all ?? 0);
        }
      },
    });
  }
  const webhookDeliveries = new Counter({
    name: "amistio_webhook_deliveries_total",
    help: "Webhook deliveries received, by event and by what intake did with them.",
    labelNames: ["event", "outcome"] as const,
    registers: [registry],
  });
  return {
    registry,
    /**
     * The X-GitHub-Event header is not covered by the signature, so only the events Amistio knows are
     * labels of their own: any other name is "other", and a sender cannot grow the label set.
     */
    countDelivery(event: string | undefined, outcome: WebhookOutcome): void {
      const label = event !== undefined && (event === "ping" || isHandledEvent(event)) ? event : "other";
      webhookDeliveries.inc({ event: label, outcome });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** The bearer token a scraper sends; without one the route does not exist (404). */
  token: string | undefined;
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** `GET /metrics` in Prometheus' text format, for a scraper that holds AMISTIO_METRICS_TOKEN. */
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
