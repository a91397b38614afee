import { verify } from "@octokit/webhooks-methods";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from "fastify";
import { Prisma } from "../db/create-database.ts";
import type { HotPathSql } from "../db/hot-path-sql.ts";
import type { Metrics, WebhookOutcome } from "../web/metrics.ts";
import type { DeliveryRecorder, IncomingDelivery } from "./delivery-recorder.ts";
import { isHandledEvent } from "./handled-events.ts";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;
export interface WebhookCounters {
  accepted: number;
  duplicate: number;
  ignored: number;
  rejected: number;
}

export interface WebhookRouteOptions {
  path: string;
  /** Counted in memory for tests and logs; ignored deliveries are also stored with status "ignored". */
  counters: WebhookCounters;
  /** The same counts by event, served at /metrics. */
  metrics: Metrics;
  secret: string;
  hotPath: HotPathSql;
  recorder: DeliveryRecorder;
}

const DELIVERY_ID = /^[0-9a-zA-Z-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;

/**
 * Webhook intake: verify, dedupe by X-GitHub-Delivery, record, enqueue, answer. It never waits for
 * GitHub or an AI model, so the 2xx is well inside GitHub's 10 s limit.
 */
export async function webhookRoute(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { hotPath, recorder, secret, counters, metrics } = options;
  const count = (event: string | undefined, outcome: WebhookOutcome) => {
    counters[outcome]++;
    metrics.countDelivery(event, outcome);
  };

  await app.register(async (scope) => {
    // The signature covers the exact bytes, so the body is kept raw; JSON is parsed only after it checks out.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_WEBHOOK_BYTES }, (_request, body, done) =>
      done(null, body),
    );

    scope.post(options.path, async (request, reply) => {
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === "string" ? value : undefined;
      };
      const deliveryId = header("x-github-delivery");
      const event = header("x-github-event");
      const signature = header("x-hub-signature-256");
      // Fields on each line rather than child loggers: a child costs its bindings' serialisation even
      // when the level is off, and intake writes one line per delivery.
      const about = { deliveryId, event };
      const refuse = (status: number, message: string) => {
        count(event, "rejected");
        request.log.warn({ ...about, status }, `webhook refused: ${message}`);
        return reply.code(status).send({ error: message });
      };

      if (!signature) {
        return header("x-hub-signature")
          ? refuse(401, "X-Hub-Signature-256 is required; SHA-1 signatures are not accepted")
          : refuse(401, "missing X-Hub-Signature-256 header: set a webhook secret on the GitHub App");
      }
      if (!/^sha256=[0-9a-f]{64}$/.test(signature))
        return refuse(401, "X-Hub-Signature-256 must be sha256=<64 hex digits>");
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) return refuse(400, "empty body");
      const text = body.toString("utf8");
      if (!(await verify(secret, text, signature))) {
        return refuse(401, "signature does not match: check that WEBHOOK_SECRET equals the App's webhook secret");
      }
      if (!deliveryId || !DELIVERY_ID.test(deliveryId))
        return refuse(400, "missing or malformed X-GitHub-Delivery header");
      if (!event || !EVENT_NAME.test(event)) return refuse(400, "missing or malformed X-GitHub-Event header");
      if (!(request.headers["content-type"] ?? "").startsWith("application/json")) {
        return refuse(415, "content type must be application/json (set it in the GitHub App's webhook settings)");
      }
      let payload: { action?: unknown; installation?: { id?: unknown } };
      try {
        payload = JSON.parse(text);
      } catch {
        return refuse(400, "body is not valid JSON");
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        return refuse(400, "body must be a JSON object");
      }

      const action = typeof payload.action === "string" ? payload.action.slice(0, 64) : null;
      const rawInstallation = payload.installation?.id;
      const installationId = typeof rawInstallation === "number" ? BigInt(rawInstallation) : null;
      const aboutDelivery = { ...about, installationId: rawInstallation ?? null };

      if (event === "ping") {
        request.log.info(aboutDelivery, "webhook ping");
        return reply.code(200).send({ status: "pong" });
      }
      if (!isHandledEvent(event)) {
        count(event, "ignored");
        const at = new Date();
        await hotPath.execute(Prisma.sql`
          INSERT INTO "WebhookDelivery" ("id", "event", "action", "installationId", "status", "receivedAt", "handledAt")
          VALUES (${deliveryId}, ${event}, ${action}, ${installationId}, 'ignored', ${at}, ${at})
          ON CONFLICT DO NOTHING`);
        request.log.info(aboutDelivery, "webhook ignored: Amistio does not handle this event");
        return reply.code(202).send({ status: "ignored" });
      }
      return accept(
        reply,
        { deliveryId, event, action, installationId, body: text, payload },
        request.log,
        aboutDelivery,
      );
    });
  });

  async function accept(
    reply: FastifyReply,
    delivery: IncomingDelivery,
    log: FastifyBaseLogger,
    about: Record<string, unknown>,
  ) {
    const result = await recorder.record(delivery);
    if (result.outcome === "duplicate") {
      count(delivery.event, "duplicate");
      log.info({ ...about, status: result.status }, "webhook duplicate: this delivery id was already received");
      return reply.code(200).send({ status: "duplicate", delivery: result.status });
    }
    if (result.outcome === "unavailable") {
      log.error({ ...about, err: result.error }, "webhook not recorded: the database or queue is unavailable");
      return reply.code(503).send({ error: "could not record the delivery; redeliver it later" });
    }
    count(delivery.event, "accepted");
    log.info({ ...about, action: delivery.action, redelivered: result.redelivered }, "webhook accepted");
    return reply.code(202).send({ status: "queued" });
  }
}
