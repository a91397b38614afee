import type { FastifyInstance } from "fastify";
import type { DeliveryJobStore } from "../db/delivery-job-store.ts";
import type { JobQueue } from "../queue/job-queue.ts";

export interface HealthRoutesOptions {
  store: Pick<DeliveryJobStore, "ping">;
  queue: Pick<JobQueue, "ping">;
}

/** `/healthz` (liveness) and `/readyz` (the database and the queue answer): web and worker ports alike. */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): Promise<void> {
  // Liveness only: anyone can reach it, so it says nothing else. Counts are at /metrics, behind a token.
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (request, reply) => {
    const checks = await Promise.allSettled([options.store.ping(), options.queue.ping()]);
    const [database, queue] = checks.map((check) => (check.status === "fulfilled" ? "ok" : "unreachable"));
    const ready = database === "ok" && queue === "ok";
    if (!ready) request.log.warn({ database, queue }, "not ready");
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", database, queue });
  });
}
